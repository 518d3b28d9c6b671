"""The daily-bars flow as plain functions: land raw, validate, store — in bounded date chunks.

Dagster assets call these; so do the benchmark and the tests. Memory is bounded by one chunk (``chunk_days``
of every symbol), never by the length of the range, so a 25-year backfill runs in the memory of one month.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backbone_domain.progress import Progress, quiet
from backbone_domain.validation import validate_bars

# Bars a chunk holds at most when its length is derived from the universe (``chunk_days_for``): a few hundred
# MB of frames, whatever the number of symbols.
CHUNK_BARS = 250_000
# Trading days are ~5 of 7 calendar days: a chunk of N calendar days holds ~5N/7 bars per symbol.
_BARS_PER_CALENDAR_DAY = 5 / 7

if TYPE_CHECKING:
    from backbone_resources.source.base import BarSource
    from backbone_resources.store.base import BarStore


def chunk_days_for(symbols: int, chunk_bars: int = CHUNK_BARS, at_most: int = 3660) -> int:
    """Calendar days per chunk so that a chunk of ``symbols`` holds about ``chunk_bars`` bars.

    Bounded memory needs a bound in bars, not days: 31 days of 3 symbols is 66 bars, and a 20-year backfill in
    such chunks pays a chunk's fixed cost (a transaction, a validation pass) 236 times for 15,000 bars.
    """
    days = int(chunk_bars / max(symbols, 1) / _BARS_PER_CALENDAR_DAY)
    return max(1, min(days, at_most))


def date_chunks(start: dt.date, end: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Consecutive inclusive sub-ranges of [start, end], each at most ``days`` long."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    step = dt.timedelta(days=days)
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(chunk_start + step - dt.timedelta(days=1), end)
        yield chunk_start, chunk_end
        chunk_start = chunk_end + dt.timedelta(days=1)


@dataclass
class LandingReport:
    rows: int = 0
    chunks: int = 0
    per_symbol: Counter[str] = field(default_factory=Counter)


@dataclass
class StoreReport:
    accepted: int = 0
    changed: int = 0  # accepted bars that were new or differed from the stored ones (a re-run changes none)
    rejected: int = 0
    chunks: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.accepted + self.rejected

    @property
    def rejected_rate(self) -> float:
        return self.rejected / self.total if self.total else 0.0


def land_raw(
    source: BarSource,
    store: BarStore,
    start: dt.date,
    end: dt.date,
    chunk_days: int,
    progress: Callable[[str], None] = quiet,
    progress_every_s: float = 5.0,
) -> LandingReport:
    """Copy what the source returns for [start, end] into the store's raw landing table, chunk by chunk.

    Each chunk is one transaction in the store: an interrupt between or inside chunks leaves whole chunks only.
    """
    report = LandingReport()
    meter = Progress("landing", start, end, chunk_days, progress, progress_every_s)
    for chunk_start, chunk_end in date_chunks(start, end, chunk_days):
        raw = source.fetch(chunk_start, chunk_end)
        rows = store.replace_raw(chunk_start, chunk_end, raw)
        report.rows += rows
        report.chunks += 1
        report.per_symbol.update(raw["symbol"].astype(str).value_counts().to_dict())
        meter.advance(chunk_end, rows)
    return report


def validate_and_store(
    store: BarStore,
    start: dt.date,
    end: dt.date,
    chunk_days: int,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] = quiet,
    progress_every_s: float = 5.0,
) -> StoreReport:
    """Validate the landed rows of [start, end] and write accepted and rejected rows, one transaction a chunk."""
    report = StoreReport()
    meter = Progress("validating", start, end, chunk_days, progress, progress_every_s)
    for chunk_start, chunk_end in date_chunks(start, end, chunk_days):
        result = validate_bars(store.read_raw(chunk_start, chunk_end), now=now)
        counts = store.write_validated(chunk_start, chunk_end, result.accepted, result.rejected)
        report.accepted += len(result.accepted)
        report.changed += counts.bars
        report.rejected += counts.rejected
        report.chunks += 1
        for reasons in result.rejected["reasons"]:
            report.reasons.update(reason_kind(r) for r in reasons)
        meter.advance(chunk_end, len(result.accepted) + counts.rejected)
    return report


def reason_kind(reason: str) -> str:
    """A reason without its values ("open is not a number: 'x'" -> "open is not a number"), for counting."""
    return reason.split(":", 1)[0]
