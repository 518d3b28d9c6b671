"""Stage stored bars as Parquet for a batch engine, in bounded chunks, and measure the store per symbol.

Why stage: the engines then read one columnar snapshot whatever the store backend is (DuckDB file or
PostgreSQL), never hold a connection on the DuckDB file (which would lock out every other process), and Spark
executors read the files in parallel. Memory is bounded by one chunk of ``chunk_days`` days.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from backbone_domain import frames
from backbone_domain.pipeline import date_chunks
from backbone_resources.batch.base import COVERAGE_COLUMNS
from backbone_resources.store.base import BarStore


def year_bounds(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The whole years a range touches: a range rewrite replaces these (symbol, year) partitions."""
    return dt.date(start.year, 1, 1), dt.date(end.year, 12, 31)


@contextmanager
def staging_dir(export_dir: str) -> Iterator[Path]:
    """A fresh directory under ``<export_dir>/_staging`` (beside the exports, so a cluster sees it too),
    removed afterwards whatever happens."""
    path = Path(export_dir) / "_staging" / secrets.token_hex(8)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stage_bars(
    store: BarStore,
    start: dt.date,
    end: dt.date,
    chunk_days: int,
    directory: Path,
    as_of: dt.datetime | None = None,
    symbols: Sequence[str] | None = None,
    prefix: object = "",
) -> int:
    """Write the stored bars of [start, end] (of ``symbols``; as known at ``as_of``) as Parquet files
    (BAR_COLUMNS), one per chunk, named ``part-<prefix><n>``; returns rows."""
    rows = 0
    for number, (first, last) in enumerate(date_chunks(start, end, chunk_days)):
        frame = store.read_bars(first, last, symbols, as_of)
        if frame.empty:
            continue
        pq.write_table(frames.bars_table(frame), directory / f"part-{prefix}{number:05d}.parquet")
        rows += len(frame)
    return rows


def store_coverage(store: BarStore, start: dt.date, end: dt.date, chunk_days: int) -> pd.DataFrame:
    """First/last date and rows per symbol in the store over [start, end], streamed chunk by chunk."""
    parts = []
    for first, last in date_chunks(start, end, chunk_days):
        frame = store.read_bars(first, last)
        if not frame.empty:
            parts.append(frame.groupby("symbol")["ts"].agg(first="min", last="max", rows="size"))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COVERAGE_COLUMNS})
    merged = pd.concat(parts).groupby(level=0).agg(first=("first", "min"), last=("last", "max"), rows=("rows", "sum"))
    merged["first"] = merged["first"].dt.date
    merged["last"] = merged["last"].dt.date
    return merged.rename_axis("symbol").reset_index()[list(COVERAGE_COLUMNS)]
