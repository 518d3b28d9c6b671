"""Batch engines under test, and bars to feed them: the same contract runs over DuckDB and local Spark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from backbone_domain import frames
from backbone_resources.batch.base import BatchEngine, Dataset
from backbone_resources.batch.duckdb_batch import DuckDBBatch

ENGINES = ["duckdb", pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow])]


def make_engine(kind: str, export_dir: Path, request: pytest.FixtureRequest) -> BatchEngine:
    if kind == "duckdb":
        return DuckDBBatch(export_dir=str(export_dir))
    from backbone_resources.batch.spark_batch import SparkBatch

    return SparkBatch(export_dir=str(export_dir), **request.getfixturevalue("spark_options"))


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path) -> BatchEngine:
    return make_engine(request.param, tmp_path / "exports", request)


def synthetic_bars(symbols=("AAA", "BBB"), start="2019-11-01", end="2021-03-31", seed=1) -> pd.DataFrame:
    """Business-day bars with a random-walk close (BAR_COLUMNS); years 2019..2021 so ranges cross years."""
    days = pd.bdate_range(start, end, tz="UTC").as_unit("us")
    rng = np.random.default_rng(seed)
    parts = []
    for symbol in symbols:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        parts.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": days,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "adj_close": close,
                    "volume": 1000.0,
                    "source": "test",
                    "ingested_at": pd.Timestamp("2024-01-01", tz="UTC").as_unit("us"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def stage(frame: pd.DataFrame, directory: Path, chunks: int = 3) -> str:
    """Write ``frame`` as a few Parquet files, as the staging step does."""
    directory.mkdir(parents=True, exist_ok=True)
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
