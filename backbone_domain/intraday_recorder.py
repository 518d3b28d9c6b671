"""The intraday handler's work (``backbone consume --handler intraday-store``): store each minute, then bring the
symbol's provisional daily bar in the hot cache up to it.

The store is the truth: its upsert by (symbol, ts, interval_s) makes a redelivered minute (a restarted bridge's
version filter starts empty) a no-op. The cached provisional bar is then advanced by the new minute when it is
the next one (``provisional.fold``: one symbol's bars arrive in time order), which costs no read; it is
recomputed from the session's stored minutes when the cache holds nothing of this session (the first minute, a
lost or restarted cache) or the minute corrects one already counted. A copy the store took nothing from changes
nothing. So the provisional bar always counts each stored minute once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from backbone_domain import provisional
from backbone_domain.intraday_bars import intraday_table
from backbone_domain.intraday_messages import IntradayBar
from backbone_resources.cache.base import CacheUnavailable

if TYPE_CHECKING:
    from backbone_resources.cache.base import HotCache
    from backbone_resources.store.base import BarStore

log = logging.getLogger(__name__)


class IntradayRecorder:
    """A synchronous bus handler (it runs in a worker thread): the store write is what acceptance means."""

    def __init__(self, store: BarStore, cache: HotCache) -> None:
        self._store, self._cache = store, cache

    def __call__(self, bar: IntradayBar) -> None:
        # Raises what the store raises (StoreUnavailable): the bus retries the minute, nothing is committed past it.
        changed = self._store.write_intraday(intraday_table([bar]))
        try:
            self._advance(bar, changed > 0)
        except CacheUnavailable as exc:
            # The minute is stored, so it is accepted: the next minute recomputes the bar from the store.
            log.warning("provisional bar of %s %s not cached: %s", bar.symbol, bar.session, exc)

    def _advance(self, bar: IntradayBar, changed: bool) -> None:
        held = self._cache.provisional(bar.symbol)
        if held is not None and held.session > bar.session:
            return  # a replay of a past session: today's provisional bar stays
        folded = provisional.fold(held, bar)
        if folded is None:
            if not changed and held is not None and held.session == bar.session:
                return  # a copy of a minute already counted
            minutes = self._store.read_intraday(bar.session, bar.session, [bar.symbol])
            (folded,) = provisional.from_minutes(minutes)
        self._cache.put_provisional(folded)
