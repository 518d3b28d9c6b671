"""Progress of a long chunked job, in lines a person can follow: chunks done, bars so far, rate and ETA.

A line goes out at most every ``every_s`` seconds, plus one at the start and one at the end, so a 20-year
backfill writes a handful of log events (each one costs a write to the Dagster instance), not one per chunk.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def chunk_count(start: dt.date, end: dt.date, days: int) -> int:
    """How many chunks ``pipeline.date_chunks(start, end, days)`` yields."""
    return math.ceil(((end - start).days + 1) / days)


@dataclass
class Progress:
    """Counts chunks and bars of one job (``label``) and reports through ``emit`` (a logger's info, print)."""

    label: str
    start: dt.date
    end: dt.date
    chunk_days: int
    emit: Callable[[str], None]
    every_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    chunks: int = 0
    bars: int = 0
    total: int = field(init=False)
    _began: float = field(init=False)
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        self.total = chunk_count(self.start, self.end, self.chunk_days)
        self._began = self._last = self.clock()
        if self.total > 1:
            self.emit(f"{self.label}: {self.start}..{self.end} in {self.total} chunks of {self.chunk_days} days")

    def advance(self, through: dt.date, bars: int) -> None:
        """One chunk done, ending on ``through``, with ``bars`` bars in it."""
        self.chunks += 1
        self.bars += bars
        now = self.clock()
        if self.chunks == self.total or now - self._last >= self.every_s:
            self._last = now
            self.emit(self.line(through, now))

    def line(self, through: dt.date, now: float) -> str:
        elapsed = max(now - self._began, 1e-9)
        figures = f"{self.chunks}/{self.total} chunks (through {through}), {self.bars:,} bars, "
        figures += f"{self.bars / elapsed:,.0f} bars/s, {_duration(elapsed)} elapsed"
        if self.chunks < self.total:
            figures += f", ETA {_duration(elapsed / self.chunks * (self.total - self.chunks))}"
        return f"{self.label}: {figures}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def quiet(_line: str) -> None:
    """An ``emit`` for callers that want no progress lines (tests, benchmarks)."""
