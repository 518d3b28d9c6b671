"""The intraday handler's work (``backbone consume --handler intraday-store``): store each minute, then refresh the
symbol's provisional daily bar in the hot cache from what the store now holds.

The provisional bar is recomputed from the stored minutes of the session rather than folded into the cached one:
the store's upsert makes a redelivered minute (a restarted bridge's version filter starts empty) a no-op, so the
aggregate counts every minute once, and a cache that was lost or down is whole again at the next minute. A
session holds at most a few hundred bars a symbol (1,440 for FX), one indexed read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from backbone_domain import provisional
from backbone_domain.intraday_bars import intraday_frame
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
        self._store.write_intraday(intraday_frame([bar]))
        minutes = self._store.read_intraday(bar.session, bar.session, [bar.symbol])
        for folded in provisional.from_minutes(minutes):
            try:
                self._cache.put_provisional(folded)
            except CacheUnavailable as exc:
                # The minute is stored, so it is accepted: the cache is rebuilt from the store by the next minute.
                log.warning("provisional bar of %s %s not cached: %s", folded.symbol, folded.session, exc)
