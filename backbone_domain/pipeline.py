"""The daily-bars flow as plain functions: land raw, validate, store — in bounded date chunks.

Dagster assets call these; so do the benchmark and the tests. Memory is bounded by one chunk (``chunk_days``
of every symbol), never by the length of the range, so a 25-year backfill runs in the memory of one month.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backbone_domain.validation import validate_bars

if TYPE_CHECKING:
    from backbone_resources.source.base import BarSource
    from backbone_resources.store.base import BarStore


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


def land_raw(source: BarSource, store: BarStore, start: dt.date, end: dt.date, chunk_days: int) -> LandingReport:
    """Copy what the source returns for [start, end] into the store's raw landing table, chunk by chunk."""
    report = LandingReport()
    for chunk_start, chunk_end in date_chunks(start, end, chunk_days):
        raw = source.fetch(chunk_start, chunk_end)
        report.rows += store.replace_raw(chunk_start, chunk_end, raw)
        report.chunks += 1
        report.per_symbol.update(raw["symbol"].astype(str).value_counts().to_dict())
    return report


def validate_and_store(
    store: BarStore, start: dt.date, end: dt.date, chunk_days: int, now: dt.datetime | None = None
) -> StoreReport:
    """Validate the landed rows of [start, end] and write accepted and rejected rows, one transaction a chunk."""
    report = StoreReport()
    for chunk_start, chunk_end in date_chunks(start, end, chunk_days):
        result = validate_bars(store.read_raw(chunk_start, chunk_end), now=now)
        counts = store.write_validated(chunk_start, chunk_end, result.accepted, result.rejected)
        report.accepted += len(result.accepted)
        report.changed += counts.bars
        report.rejected += counts.rejected
        report.chunks += 1
        for reasons in result.rejected["reasons"]:
            report.reasons.update(reason_kind(r) for r in reasons)
    return report


def reason_kind(reason: str) -> str:
    """A reason without its values ("open is not a number: 'x'" -> "open is not a number"), for counting."""
    return reason.split(":", 1)[0]
