"""Export steps as plain functions over the store and batch interfaces: what the batch assets run.

They live beside ``staging`` in the batch family, not in the domain: they drive resources (store reads, staged
files, the engine), and the domain never imports resources (staging itself uses the domain's frames and chunks).

A range rewrite replaces whole (symbol, year) partitions: a year partition holds more days than a range, so
the affected years are restaged from the store and rewritten in full. Rows of the range are replaced,
rows of the same years outside it are rewritten from the same store (unchanged if the store is), and every
other year is left alone. Memory stays bounded: the store is read ``chunk_days`` at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from backbone_domain.changes import Changes, returns_years, symbol_years
from backbone_resources.batch.base import COVERAGE_COLUMNS, BatchEngine, DatasetProfile
from backbone_resources.batch.staging import stage_bars, staging_dir, year_bounds
from backbone_resources.store.base import BarStore


@dataclass(frozen=True)
class ExportReport:
    years: tuple[int, int] | None  # the first and last year rewritten; None when nothing was
    staged: int
    written: int
    partitions: tuple[tuple[str, int], ...] | None = None  # the (symbol, year)s rewritten; None: every one of years


def export_bars(
    store: BarStore,
    batch: BatchEngine,
    start: dt.date,
    end: dt.date,
    chunk_days: int,
    as_of: dt.datetime | None = None,
) -> ExportReport:
    """Rewrite the daily_bars (symbol, year) partitions of the years [start, end] touches, from the store, as it
    is now or as it was known at ``as_of`` (``BarStore.read_bars``): the same bytes as the export made then."""
    first, last = year_bounds(start, end)
    with staging_dir(batch.export_dir) as directory:
        staged = stage_bars(store, first, last, chunk_days, directory, as_of)
        # Nothing stored in those years (a first run on a weekend day): no file to read, nothing to rewrite.
        written = batch.write_bars(str(directory)) if staged else 0
    return ExportReport((first.year, last.year), staged, written)


def export_changed_bars(store: BarStore, batch: BatchEngine, changes: Changes) -> ExportReport:
    """Rewrite only the daily_bars (symbol, year) partitions holding a key changed since the layer's watermark:
    each restaged whole from the store (a partition is one file), every other partition left as it was (same
    bytes, same mtime). A partition whose every bar was retired keeps its file (nothing to stage): a known gap."""
    partitions = symbol_years(changes.keys)
    staged = written = 0
    if partitions:
        with staging_dir(batch.export_dir) as directory:
            for year, symbols in partitions.items():
                staged += stage_bars(
                    store, dt.date(year, 1, 1), dt.date(year, 12, 31), 366, directory, symbols=symbols, prefix=year
                )
            written = batch.write_bars(str(directory)) if staged else 0
    return ExportReport(_years(partitions), staged, written, _pairs(partitions))


def export_returns(batch: BatchEngine, start: dt.date, end: dt.date) -> ExportReport:
    """Recompute daily_returns for the years [start, end] touches (windows reach into earlier years)."""
    first, last = year_bounds(start, end)
    written = batch.write_returns(first.year, last.year)
    return ExportReport((first.year, last.year), written, written)


def export_changed_returns(batch: BatchEngine, changes: Changes) -> ExportReport:
    """Recompute only the daily_returns (symbol, year) partitions a changed key reaches: its own year, and the
    next one when it lies in that year's first windows (``changes.returns_years``)."""
    partitions = returns_years(changes.keys)
    written = sum(batch.write_returns(year, year, symbols) for year, symbols in partitions.items())
    return ExportReport(_years(partitions), written, written, _pairs(partitions))


def _years(partitions: Mapping[int, list[str]]) -> tuple[int, int] | None:
    return (min(partitions), max(partitions)) if partitions else None


def _pairs(partitions: Mapping[int, list[str]]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((symbol, year) for year, symbols in partitions.items() for symbol in symbols))


@dataclass(frozen=True)
class YearComparison:
    """Rows per year of an export against what it should hold; only the export's years are compared."""

    expected: dict[int, int]
    found: dict[int, int]

    @property
    def mismatched(self) -> dict[int, tuple[int, int]]:
        return {
            y: (self.found[y], self.expected.get(y, 0)) for y in self.found if self.found[y] != self.expected.get(y, 0)
        }


def compare_with_store(store: BarStore, profile: DatasetProfile) -> YearComparison:
    """The export's rows per year against the store's bars of the same years."""
    expected = {
        year: store.range_counts(dt.date(year, 1, 1), dt.date(year, 12, 31)).bars for year in profile.rows_by_year
    }
    return YearComparison(expected, profile.rows_by_year)


def retention_table(holdings: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (holder, symbol): first/last date and rows, from each holder's COVERAGE_COLUMNS frame."""
    parts = [frame.assign(holder=name) for name, frame in holdings.items() if not frame.empty]
    if not parts:
        return pd.DataFrame(columns=["holder", *COVERAGE_COLUMNS])
    table = pd.concat(parts, ignore_index=True)[["holder", *COVERAGE_COLUMNS]]
    return table.sort_values(["symbol", "holder"], kind="stable").reset_index(drop=True)
