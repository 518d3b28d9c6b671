"""Replaying one session's intraday bars onto the stream at N times real time (``backbone stream intraday``).

A bar is published when it closes on the replay clock, which starts at the session's first open and runs
``speed`` times faster than the wall clock: at 1x a session takes its real hours (a demo of a live day), at 60x
a minute bar arrives every second, and an infinite (or very large) speed publishes the whole session at once
(tests). Bars closing at the same moment go out together, ordered by symbol, so each symbol's bars reach the
topic in time order.

The whole session is one ``StreamResource.publish`` call fed by a generator that waits for the replay clock: one
Kafka producer (or one SQLite connection) for the session, and each batch goes out as soon as it is due (the
local log commits it at once; librdkafka sends it within ``linger.ms``). ``stop()`` (SIGTERM, Ctrl-C) ends the
generator between batches; the publish then confirms what was sent and returns, so a stop never leaves a batch
half-sent.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backbone_domain.intraday_messages import IntradayBar, Origin, message_batch
from backbone_domain.message_batch import MessageBatch

if TYPE_CHECKING:
    from backbone_resources.stream.base import StreamResource


@dataclass
class ReplayReport:
    total: int  # bars of the session
    sent: int = 0  # handed to the stream so far
    delivered: int = 0  # acknowledged by the stream (set when the publish returns)
    batches: int = 0
    reached: dt.datetime | None = None  # the replay clock when last looked at (capped at the last bar's close)
    stopped_by: str | None = None  # "SIGTERM", "SIGINT" or "stop()" when stopped before the end


class SessionReplay:
    """Publishes ``bars`` (one session's, any symbols) at ``speed`` times real time; ``run(stream)`` once."""

    def __init__(
        self,
        bars: Sequence[IntradayBar],
        speed: float,
        origin: Origin = "replay",
        progress: Callable[[ReplayReport], None] | None = None,
        progress_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        # due = when a bar closes (its version, ``ingested_at``); ties in symbol order
        self.bars = sorted(bars, key=lambda b: (b.ingested_at, b.symbol, b.ts))
        self.start = min((b.ts for b in self.bars), default=None)
        self._due_s = [(b.ingested_at - self.start).total_seconds() for b in self.bars] if self.start else []
        self.speed, self.origin, self.progress, self.progress_every_s = speed, origin, progress, progress_every_s
        self._clock = clock
        self._stop = threading.Event()
        self.report = ReplayReport(total=len(self.bars))

    def stop(self, why: str = "stop()") -> None:
        if not self._stop.is_set():
            self.report.stopped_by = why
        self._stop.set()

    def run(self, stream: StreamResource) -> ReplayReport:
        """Publish every bar when it is due, until the last one or ``stop()``; SIGTERM and Ctrl-C stop it too
        when it runs in the main thread. Raises what ``publish`` raises (StreamUnavailable)."""
        previous = self._install_signals()
        try:
            if self.bars:
                stream.ensure_topic()
                self.report.delivered = stream.publish(self.batches()).delivered
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.report

    def batches(self) -> Iterator[MessageBatch]:
        """The session's bars in batches, each yielded once the replay clock has passed its bars' close."""
        started = last_progress = self._clock()
        sent, total = 0, len(self.bars)
        while sent < total and not self._stop.is_set():
            now = self._clock()
            ahead = (now - started) * self.speed if math.isfinite(self.speed) else math.inf
            due = bisect.bisect_right(self._due_s, ahead, lo=sent)
            self._note(ahead)
            if due > sent:
                yield message_batch(self.bars[sent:due], self.origin)
                sent = self.report.sent = due
                self.report.batches += 1
            if self.progress is not None and now - last_progress >= self.progress_every_s:
                last_progress = now
                self.progress(self.report)
            if sent < total:
                wait_s = (self._due_s[sent] - ahead) / self.speed
                self._stop.wait(min(max(wait_s, 0.0), self.progress_every_s))

    def _note(self, ahead: float) -> None:
        if self.start is not None:
            self.report.reached = self.start + dt.timedelta(seconds=min(ahead, self._due_s[-1]))

    def _install_signals(self) -> dict[int, Any]:
        """SIGTERM and SIGINT stop the replay cleanly (main thread only: elsewhere signals cannot be set)."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda s, _f: self.stop(signal.Signals(s).name))
        return previous


def session_bars(frame: Any, origin: Origin = "replay") -> list[IntradayBar]:
    """The bars of a ``BarSource.fetch_intraday`` frame as messages: each one's version (``ingested_at``) is the
    moment it closes, the end of its interval or the session's close if that comes first."""
    from backbone_domain.calendars import session_hours

    closes: dict[str, dt.datetime] = {}
    bars = []
    for row in frame.itertuples(index=False):
        if row.symbol not in closes:
            closes[row.symbol] = session_hours(row.symbol, row.session)[1]
        ts = row.ts.to_pydatetime()
        bars.append(
            IntradayBar(
                symbol=row.symbol,
                ts=ts,
                interval_s=int(row.interval_s),
                session=row.session,
                open=float(row.open),
                high=float(row.high),
                low=float(row.low),
                close=float(row.close),
                volume=float(row.volume),
                source=row.source,
                ingested_at=min(ts + dt.timedelta(seconds=int(row.interval_s)), closes[row.symbol]),
                origin=origin,
            )
        )
    return bars
