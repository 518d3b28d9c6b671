"""Batch engines under test, and bars to feed them: the same contract runs over DuckDB and local Spark."""

from __future__ import annotations

import hashlib
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from backbone_domain import frames
from backbone_domain.returns import ANNUALIZATION_DAYS, VOL_WINDOW
from backbone_resources.batch.base import BatchEngine, Dataset
from backbone_resources.batch.duckdb_batch import DuckDBBatch

ENGINES = ["duckdb", pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow])]


def make_engine(kind: str, export_dir: Path, request: pytest.FixtureRequest) -> BatchEngine:
    if kind == "duckdb":
        # More threads than cores: the parallel paths (where row order used to vary) run even on one core.
        return DuckDBBatch(export_dir=str(export_dir), threads=4)
    from backbone_resources.batch.spark_batch import SparkBatch

    return SparkBatch(export_dir=str(export_dir), **request.getfixturevalue("spark_options"))


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path) -> BatchEngine:
    return make_engine(request.param, tmp_path / "exports", request)


def stage(frame: pd.DataFrame, directory: Path, chunks: int = 3) -> str:
    """Write ``frame`` as a few Parquet files, as the staging step does (into an emptied ``directory``)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.parquet"):
        old.unlink()
    for number, part in enumerate(np.array_split(np.arange(len(frame)), chunks)):
        pq.write_table(frames.bars_table(frame.iloc[part]), directory / f"part-{number:05d}.parquet")
    return str(directory)


def read_dataset(engine: BatchEngine, dataset: Dataset) -> pd.DataFrame:
    """Every row of a dataset (partition columns included), ordered by symbol, ts, read with pyarrow."""
    import pyarrow.dataset as ds

    root = Path(engine.dataset_path(dataset))
    table = ds.dataset(
        [str(p) for p in sorted(root.glob("symbol=*/year=*/*.parquet"))],
        format="parquet",
        partitioning="hive",
        partition_base_dir=str(root),
    ).to_table()
    frame = table.to_pandas()
    frame["year"] = frame["year"].astype("int64")
    frame["ts"] = frame["ts"].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return frame.sort_values(["symbol", "ts"]).reset_index(drop=True)


def dataset_files(engine: BatchEngine, dataset: Dataset, ignore: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Each (symbol, year) partition's rows as Parquet-independent bytes, to compare content across runs."""
    frame = read_dataset(engine, dataset).drop(columns=list(ignore), errors="ignore")
    return {
        f"{s}/{y}": part.drop(columns=["symbol", "year"]).to_csv(index=False).encode()
        for (s, y), part in frame.groupby(["symbol", "year"])
    }


def file_digests(engine: BatchEngine, dataset: Dataset) -> dict[str, str]:
    """sha256 of every data file of a dataset by its path under the dataset root: names and bytes."""
    root = Path(engine.dataset_path(dataset))
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))
    }


def unsorted_files(engine: BatchEngine, dataset: Dataset) -> list[str]:
    """Files whose rows are not in strictly increasing ts order (each file should hold one partition, sorted)."""
    root = Path(engine.dataset_path(dataset))
    bad = []
    for path in sorted(root.rglob("*.parquet")):
        ts = pq.read_table(path, columns=["ts"]).column("ts").cast("int64").to_numpy()
        if (np.diff(ts) <= 0).any():
            bad.append(str(path.relative_to(root)))
    return bad


def python_reference(bars: pd.DataFrame) -> pd.DataFrame:
    """The returns definition in plain Python, independent of pandas' rolling code: ``math.log`` of the
    close ratio, ``statistics.stdev`` (exact rational sums) of the last VOL_WINDOW returns × √252."""
    rows = []
    for symbol, group in bars.sort_values(["symbol", "ts"]).groupby("symbol", sort=True):
        closes, returns = group["close"].tolist(), []
        for i, ts in enumerate(group["ts"]):
            log_return = math.log(closes[i] / closes[i - 1]) if i else math.nan
            returns.append(log_return)
            window = returns[-VOL_WINDOW:]
            full = i >= VOL_WINDOW
            vol = statistics.stdev(window) * math.sqrt(ANNUALIZATION_DAYS) if full else math.nan
            rows.append((symbol, ts, log_return, vol))
    return pd.DataFrame(rows, columns=["symbol", "ts", "log_return", "realized_vol_20d"])
