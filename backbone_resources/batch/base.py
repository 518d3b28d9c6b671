"""The batch seam: the engine that turns stored bars into Parquet datasets and derived series.

Two backends implement it and pass the same contract tests (``backbone_tests/resources/batch``):
``spark_batch`` (institutional; any Spark master) and ``duckdb_batch`` (bootstrap; in-process). Assets see
only this interface. Both engines read what the asset staged from the store (Parquet files, see
``staging``), never the store itself: see docs/batch.md for why a staged snapshot rather than JDBC.

Datasets live under ``export_dir``: ``daily_bars/`` and ``daily_returns/``, Hive-partitioned
``symbol=<S>/year=<YYYY>/``. Timestamps are UTC; ``ts`` is midnight UTC of the trading date.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from backbone_resources.probe import Probe
from backbone_resources.unavailable import BatchUnavailable

__all__ = ["BatchEngine", "BatchUnavailable", "DatasetProfile"]

Dataset = Literal["daily_bars", "daily_returns"]
DATASETS: tuple[Dataset, ...] = ("daily_bars", "daily_returns")
# Columns of the files (symbol and year are the partition directories).
BARS_FILE_COLUMNS = ("ts", "open", "high", "low", "close", "adj_close", "volume", "source", "ingested_at")
RETURNS_FILE_COLUMNS = ("ts", "log_return", "realized_vol_20d")
COVERAGE_COLUMNS = ("symbol", "first", "last", "rows")


@dataclass(frozen=True)
class DatasetProfile:
    """What a dataset holds: rows per year (over every symbol) and (symbol, ts) keys present more than once."""

    rows_by_year: dict[int, int]
    duplicate_keys: int

    @property
    def rows(self) -> int:
        return sum(self.rows_by_year.values())


def versions_frame(rows: Sequence[tuple[object, object, object]]) -> pd.DataFrame:
    """(symbol, ts, ingested_at) rows as ``exported_versions`` returns them: times as UTC instants (an engine
    hands back naive UTC or zoned values; both mean the same instant)."""
    frame = pd.DataFrame(list(rows), columns=["symbol", "ts", "ingested_at"])
    for column in ("ts", "ingested_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


class BatchEngine(ConfigurableResource, ABC):
    """Writes and measures the export datasets. Every write replaces whole (symbol, year) partitions and
    leaves every other partition untouched; writing the same input twice leaves the same files, names and
    bytes (one file per partition, rows in ts order; docs/batch.md, "Determinism")."""

    export_dir: str = Field(description="root of the datasets, e.g. <BACKBONE_HOME>/exports")

    kinds: ClassVar[tuple[str, ...]] = ()  # what the UI's kind tags name for assets this engine serves

    @abstractmethod
    def probe(self) -> Probe:
        """Whether the engine can start, and its version, without starting it; never raises for "cannot"."""

    def dataset_path(self, dataset: Dataset) -> str:
        return f"{self.export_dir.rstrip('/')}/{dataset}"

    def warm_up(self) -> None:
        """Start what the engine's first write needs (a JVM, a cluster session) in the background, when a run
        that exports is about to start; a no-op for engines with nothing to start. Never raises: the first real
        use reports any failure."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Engine, master / version and export root, for metadata."""

    @abstractmethod
    def write_bars(self, staged_dir: str) -> int:
        """Make the staged bars (Parquet files of BAR_COLUMNS in ``staged_dir``) the content of every
        ``daily_bars`` (symbol, year) partition they touch, rows sorted by ts. Returns rows written;
        an empty stage writes nothing."""

    @abstractmethod
    def write_returns(self, first_year: int, last_year: int, symbols: Sequence[str] | None = None) -> int:
        """Recompute ``daily_returns`` for the years [first_year, last_year] from ``daily_bars``, replacing
        those years' partitions (only ``symbols``' when given: a correction rewrites its symbols alone).
        ``log_return`` = ln(close / previous close), null on a symbol's first bar;
        ``realized_vol_20d`` = sample stdev of the last 20 log returns × √252, null until 20 returns exist.
        Windows reach back into earlier years (the last 21 bars before ``first_year``). Returns rows written."""

    @abstractmethod
    def profile(self, dataset: Dataset) -> DatasetProfile:
        """Rows per year and duplicate (symbol, ts) keys of a dataset; empty when it does not exist yet."""

    @abstractmethod
    def coverage(self, dataset: Dataset) -> pd.DataFrame:
        """Per symbol: first and last trading date (datetime.date) and rows (COVERAGE_COLUMNS), by symbol."""

    @abstractmethod
    def exported_versions(self) -> pd.DataFrame:
        """The bar versions the ``daily_bars`` export holds: (symbol, ts, ingested_at), tz-aware UTC; empty when
        nothing was exported. ``retention_audit`` checks them against the versions the store keeps."""
