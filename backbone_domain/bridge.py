"""The consumer bridge: the stream's bars handed to a handler once each, offsets committed after it succeeded.

At-least-once delivery plus a version filter gives the handler each (symbol, ts, version) once: Kafka may
redeliver after a crash (offsets are committed only after the handler returned), a retried publish or a replay
adds copies, and an older version arriving after a newer one is skipped. SIGTERM stops the loop after the batch
in hand is handled and committed, then the consumer leaves its group. ``bus.stream_feed.BusBridge`` is this loop
with the hand-off replaced by the event bus's subscribers.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from backbone_domain.bar_messages import BarMessage, VersionFilter, decode
from backbone_domain.bars import BAR_COLUMNS, BAR_DTYPES

if TYPE_CHECKING:
    from backbone_resources.stream.base import Record, StreamResource

log = logging.getLogger("backbone.bridge")
Handler = Callable[[Sequence[BarMessage]], None]


@dataclass
class BridgeReport:
    received: int = 0
    handled: int = 0
    skipped: int = 0  # duplicates and out-of-date versions
    commits: int = 0


class CacheInvalidator:
    """Default handler: keeps the hot cache current by replacing each cached bar a message supersedes with the
    message's version (``HotCache.replace_bars``: only a date the cache holds, never with an older version).

    It used to drop the bar instead; dropped inside a symbol's cached window, the window had a hole and
    ``last_bars(n)`` answered n bars that skipped that date. A replaced bar keeps the window whole."""

    def __init__(self, cache: Any) -> None:
        self._cache = cache

    def __call__(self, bars: Sequence[BarMessage]) -> None:
        self._cache.replace_bars(messages_frame(bars))


def messages_frame(bars: Sequence[BarMessage]) -> pd.DataFrame:
    """The messages' bars as a BAR_COLUMNS frame (``BAR_DTYPES``; a null adj_close as NaN)."""
    rows = [
        (b.symbol, b.ts, b.open, b.high, b.low, b.close, _number(b.adj_close), b.volume, b.source, b.ingested_at)
        for b in bars
    ]
    return pd.DataFrame(rows, columns=list(BAR_COLUMNS)).astype(BAR_DTYPES)


def _number(value: float | None) -> float:
    return math.nan if value is None else value


# How long a member may wait for its partitions before idle time counts regardless.
JOIN_WAIT_S = 30.0


class Bridge:
    """Subscribes ``group`` to the stream and feeds ``handler`` batches of new bars.

    ``handler`` may be None only in a subclass that overrides ``_hand_off``.
    """

    def __init__(
        self,
        stream: StreamResource,
        group: str,
        handler: Handler | None,
        batch_size: int = 500,
        decoder: Callable[[bytes, dict[str, bytes]], Any] = decode,
    ) -> None:
        """``decoder`` turns a record into a bar: the daily contract's by default, ``intraday_messages.decode`` for
        the intraday topic (any bar with ``identity`` and ``ingested_at`` passes the version filter)."""
        self.stream, self.group, self.handler, self.batch_size = stream, group, handler, batch_size
        self.decoder = decoder
        self.versions = VersionFilter()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, idle_timeout_s: float | None = None, max_records: int | None = None) -> BridgeReport:
        """Consume until stopped (SIGTERM, ``stop()``), ``idle_timeout_s`` without records, or ``max_records``.

        Idle time counts from the group's assignment, not from the start: a broker's group join takes seconds
        (more with many members), and counting it made a slow join end the run with "received 0". A member
        that waits longer than ``JOIN_WAIT_S`` for partitions starts counting anyway, so it still ends.
        """
        report = BridgeReport()
        previous = self._install_sigterm()
        try:
            with self.stream.consumer(self.group) as consumer:
                started = quiet_since = time.monotonic()
                while not self._stop.is_set():
                    records = consumer.poll(self.batch_size, 1.0)
                    now = time.monotonic()
                    if not records:
                        waiting = not consumer.assigned() and now - started < JOIN_WAIT_S
                        if waiting:
                            quiet_since = now
                        elif idle_timeout_s is not None and now - quiet_since >= idle_timeout_s:
                            break
                        continue
                    quiet_since = now
                    bars = [self.decoder(r.value, r.headers) for r in records]
                    fresh = self.versions.select(bars)
                    done, handled = self._hand_off(records, bars, fresh)
                    if done:
                        consumer.commit(done)
                        report.commits += 1
                    self.versions.remember(handled)
                    report.received += len(records)
                    report.handled += len(handled)
                    report.skipped += len(records) - len(fresh)
                    if max_records is not None and report.received >= max_records:
                        break
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        log.info("bridge %s stopped: %s", self.group, report)
        return report

    def _hand_off(
        self, records: list[Record], bars: list[BarMessage], fresh: list[BarMessage]
    ) -> tuple[list[Record], list[BarMessage]]:
        """Hand ``fresh`` (the new bars among ``bars``, decoded from ``records`` in order) on; return the records
        that may be committed and the fresh bars that were handled. Here: all or, if the handler raises, nothing
        (the exception ends the run and the batch is redelivered to the next one)."""
        if fresh:
            assert self.handler is not None, "a Bridge without a handler must override _hand_off"
            self.handler(fresh)
        return records, fresh

    def _install_sigterm(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
