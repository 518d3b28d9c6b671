"""Export 5,000,000 bars with each batch engine: rows/s and peak memory (the figures in docs/batch.md).

A scratch DuckDB store is filled once with synthetic bars (through validation and ``write_validated``, as
the flow does), then each engine runs in its own subprocess: stage the store as Parquet in chunks, write
``daily_bars`` (Hive symbol/year) and ``daily_returns``. Peak memory is sampled from /proc over the process
and its descendants (for Spark, the JVM), every 0.1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

FIRST_DAY = dt.date(2000, 1, 3)


def fill(store_path: str, symbols: int, days: int) -> int:
    from backbone_domain.bars import RAW_COLUMNS
    from backbone_domain.validation import validate_bars
    from backbone_resources.store.duckdb_store import DuckDBBarStore

    store = DuckDBBarStore(path=store_path)
    sessions = pd.bdate_range(FIRST_DAY, periods=days, tz="UTC").as_unit("us")
    names = np.array([f"S{i:05d}" for i in range(symbols)], dtype=object)
    rng = np.random.default_rng(5)
    level = np.full(symbols, 100.0)
    rows = 0
    for year in sorted(set(sessions.year)):
        ts = sessions[sessions.year == year]
        steps = np.exp(np.cumsum(rng.normal(0, 0.01, (len(ts), symbols)), axis=0)) * level
        level = steps[-1]
        close = steps.T.ravel()
        raw = pd.DataFrame(
            {
                "symbol": np.repeat(names, len(ts)),
                "ts": np.tile(ts, symbols),
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "adj_close": close,
                "volume": 1e6,
                "source": "bench",
                "partition_date": np.tile(ts.date, symbols),
                "payload": None,
            }
        )[list(RAW_COLUMNS)]
        result = validate_bars(raw)
        store.write_validated(ts[0].date(), ts[-1].date(), result.accepted, result.rejected)
        rows += len(result.accepted)
    return rows


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _family(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    family, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        family += frontier
    return family


class PeakMemory(threading.Thread):
    """Peak summed RSS of this process and its descendants, sampled until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.1):
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(p) for p in _family(os.getpid())))

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak_kib


def child(engine_name: str, store_path: str, export_dir: str, chunk_days: int) -> None:
    from backbone_resources.batch.exports import export_returns
    from backbone_resources.batch.staging import stage_bars, staging_dir, year_bounds
    from backbone_resources.store.duckdb_store import DuckDBBarStore

    if engine_name == "spark":
        from backbone_resources.batch.settings import SparkSettings
        from backbone_resources.batch.spark_batch import SparkBatch

        engine = SparkBatch(export_dir=export_dir, spark=SparkSettings(conf={"spark.ui.enabled": "false"}))
    else:
        from backbone_resources.batch.duckdb_batch import DuckDBBatch

        engine = DuckDBBatch(export_dir=export_dir)
    store = DuckDBBarStore(path=store_path)
    start, end = FIRST_DAY, max(store.latest_bar_dates().values())
    monitor = PeakMemory()
    monitor.start()
    began = time.perf_counter()
    if engine_name == "spark":
        engine.session()  # the JVM start is reported apart from the export
    started = time.perf_counter()
    # export_bars' two halves, timed apart: staging from the store (Python, chunked), then the engine write.
    first, last = year_bounds(start, end)
    with staging_dir(engine.export_dir) as directory:
        staged = stage_bars(store, first, last, chunk_days, directory)
        stage_done = time.perf_counter()
        written = engine.write_bars(str(directory))
    exported = time.perf_counter()
    returns = export_returns(engine, start, end)
    done = time.perf_counter()
    peak_mib = monitor.stop() / 1024
    print(
        json.dumps(
            {
                "engine": engine_name,
                "staged": staged,
                "bars": written,
                "returns": returns.written,
                "session_start_s": round(started - began, 1),
                "stage_s": round(stage_done - started, 1),
                "bars_write_s": round(exported - stage_done, 1),
                "bars_export_s": round(exported - started, 1),
                "bars_rows_per_s": round(written / (exported - started)),
                "returns_s": round(done - exported, 1),
                "returns_rows_per_s": round(returns.written / (done - exported)),
                "peak_rss_mib_process_tree": round(peak_mib),
                "cores": os.cpu_count(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--days", type=int, default=2500, help="business days per symbol (2000 x 2500 = 5M bars)")
    parser.add_argument("--chunk-days", type=int, default=31)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    parser.add_argument("--workdir", help="keep the scratch store and exports here (default: a temp dir)")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "STORE", "EXPORT_DIR"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2], args.chunk_days)
        return
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        store_path = str(work / "bench.duckdb")
        if not Path(store_path).exists():
            began = time.perf_counter()
            rows = fill(store_path, args.symbols, args.days)
            print(json.dumps({"filled_bars": rows, "fill_s": round(time.perf_counter() - began, 1)}), flush=True)
        for engine in args.engines:
            out = work / f"exports_{engine}"
            command = [sys.executable, "-m", "benchmarks.batch_export", "--chunk-days", str(args.chunk_days)]
            subprocess.run([*command, "--child", engine, store_path, str(out)], check=True)


if __name__ == "__main__":
    main()
