"""A small export on both batch engines: 3 symbols x 20 years, where fixed costs dominate (docs/batch.md).

The common first backfill is a few symbols over many years: ~16k bars in 60 (symbol, year) partitions. Its
cost should follow the data; this times what the daily job runs on that data, per engine, in one process:
``write_bars`` (from a stage cut into 31-day files, as ``staging.stage_bars`` writes it), ``write_returns``
over the 20 years, and the five ``profile()`` calls the four batch checks make. The Spark session start is
timed apart. ``--runs`` repeats the whole export over the same directories (a re-run), to show the cold
first run and the warm ones. Prints one JSON line. Run on demand: ``python -m benchmarks.spark_small_export``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from backbone_domain import frames
from backbone_domain.pipeline import date_chunks
from backbone_domain.validation import validate_bars
from backbone_resources.batch.base import BatchEngine
from backbone_resources.source.synthetic import SyntheticSource

SYMBOLS = ("AAPL", "EURUSD", "SPY")
FIRST, LAST = dt.date(1999, 1, 1), dt.date(2018, 12, 31)
# What the four batch checks ask of the engine (backbone_assets/batch.py): 3 x daily_bars, 2 x daily_returns.
CHECK_PROFILES = ("daily_bars", "daily_bars", "daily_bars", "daily_returns", "daily_returns")


def stage(directory: Path, chunk_days: int) -> int:
    """The synthetic source's bars, validated, written as ``stage_bars`` does: one file per chunk of days."""
    raw = SyntheticSource(symbols=list(SYMBOLS)).fetch(FIRST, LAST)
    bars = validate_bars(raw, ingested_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)).accepted
    directory.mkdir(parents=True)
    for number, (first, last) in enumerate(date_chunks(FIRST, LAST, chunk_days)):
        day = bars["ts"].dt.date
        chunk = bars[(day >= first) & (day <= last)]
        if not chunk.empty:
            pq.write_table(frames.bars_table(chunk), directory / f"part-{number:05d}.parquet")
    return len(bars)


def engine_for(name: str, export_dir: Path) -> BatchEngine:
    if name == "spark":
        from backbone_resources.batch.settings import SparkSettings
        from backbone_resources.batch.spark_batch import SparkBatch

        return SparkBatch(export_dir=str(export_dir), spark=SparkSettings(conf={"spark.ui.enabled": "false"}))
    from backbone_resources.batch.duckdb_batch import DuckDBBatch

    return DuckDBBatch(export_dir=str(export_dir))


def export_once(engine: BatchEngine, staged: str) -> dict[str, Any]:
    """One export as the daily job runs it: bars, returns, then the checks' profiles; seconds of each."""
    began = time.perf_counter()
    bars = engine.write_bars(staged)
    bars_done = time.perf_counter()
    returns = engine.write_returns(FIRST.year, LAST.year)
    returns_done = time.perf_counter()
    profiles = [engine.profile(dataset) for dataset in CHECK_PROFILES]
    done = time.perf_counter()
    measured = [(p.rows, p.duplicate_keys) for p in (profiles[0], profiles[-1])]
    if measured != [(bars, 0), (returns, 0)]:
        raise RuntimeError(f"profiles {measured} disagree with the writes ({bars}, {returns} rows)")
    return {
        "bars": bars,
        "returns": returns,
        "write_bars_s": round(bars_done - began, 2),
        "write_returns_s": round(returns_done - bars_done, 2),
        "profiles_s": round(done - returns_done, 2),
        "total_s": round(done - began, 2),
    }


def run_engine(name: str, work: Path, staged: str, runs: int) -> dict[str, Any]:
    engine = engine_for(name, work / f"exports_{name}")
    result: dict[str, Any] = {}
    if name == "spark":
        began = time.perf_counter()
        engine.session()  # type: ignore[attr-defined]  # the JVM start, reported apart from the export
        result["session_start_s"] = round(time.perf_counter() - began, 2)
    result["runs"] = [export_once(engine, staged) for _ in range(runs)]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    parser.add_argument("--runs", type=int, default=2, help="exports per engine over the same directories")
    parser.add_argument("--chunk-days", type=int, default=31, help="days per staged file, as BACKBONE_CHUNK_DAYS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        staged = work / "stage"
        rows = stage(staged, args.chunk_days)
        report: dict[str, Any] = {
            "symbols": len(SYMBOLS),
            "years": LAST.year - FIRST.year + 1,
            "staged_bars": rows,
            "staged_files": len(list(staged.glob("*.parquet"))),
            "load_avg_1m_before": round(os.getloadavg()[0], 2),
            "cores": os.cpu_count(),
        }
        for name in args.engines:
            report[name] = run_engine(name, work, str(staged), args.runs)
        report["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        print(json.dumps(report))


if __name__ == "__main__":
    main()
