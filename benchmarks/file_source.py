"""A directory of Yahoo-style CSV files through ``land_raw`` into PostgreSQL, against ``psql \\copy``.

Issue 11's second trap: 1,000 files × 2,500 trading days (2.5M bars) read in 31-day chunks, where each chunk
used to re-parse every file once the universe outgrew the in-memory cache. Generates the files into a temp
directory, lands the whole range through ``land_raw`` (the ``csv:<dir>`` source, ``chunk_days_for`` the universe) into a
scratch database, then loads the same rows from one CSV file with ``psql \\copy`` into a table shaped as the
row-per-record landing table ``raw_bars`` (what the store used before ``raw_batches``).
Prints one JSON line: both sides' wall time and rate, their ratio, and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from backbone_domain.pipeline import chunk_days_for, date_chunks, land_raw
from backbone_resources.source.files import FileSource
from backbone_resources.store import raw_batches
from backbone_resources.store.postgres_store import PostgresBarStore
from benchmarks._pg import scratch_database, universe

END = dt.date(2024, 12, 31)


def write_files(directory: Path, files: int, days: int, seed: int = 11, end: dt.date = END) -> tuple[dt.date, dt.date]:
    """``files`` Yahoo Finance exports of ``days`` weekdays ending at ``end``; returns their date range."""
    dates = pd.bdate_range(end=end, periods=days)
    rng = np.random.default_rng(seed)
    for symbol in universe(files):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))
        open_ = close * (1 + rng.normal(0, 0.003, days))
        frame = pd.DataFrame(
            {
                "Date": dates.strftime("%Y-%m-%d"),
                "Open": open_,
                "High": np.maximum(open_, close) * 1.004,
                "Low": np.minimum(open_, close) * 0.996,
                "Close": close,
                "Adj Close": close * 0.98,
                "Volume": rng.integers(1_000_000, 90_000_000, days),
            }
        )
        frame.to_csv(directory / f"{symbol}.csv", index=False, float_format="%.6f")
    return dates[0].date(), dates[-1].date()


def psql_copy(store: PostgresBarStore, url: str, directory: Path, start: dt.date, end: dt.date) -> tuple[float, int]:
    """``\\copy`` of the landed rows (read back through the store, written to one CSV) into a table shaped as
    the old row-per-record landing table ``raw_bars``: seconds and rows."""
    csv_path = directory / "raw_bars.csv"
    columns = ["partition_date", "source", "symbol", "ts", "open", "high", "low", "close", "adj_close", "volume"]
    columns.append("payload")
    schema = pa.schema([raw_batches.RAW_ARROW_SCHEMA.field(name) for name in columns])
    with pacsv.CSVWriter(csv_path, schema) as out:
        for chunk_start, chunk_end in date_chunks(start, end, 365):
            landed = pa.Table.from_pandas(store.read_raw(chunk_start, chunk_end), preserve_index=False)
            out.write_table(landed.select(columns).cast(schema))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.raw_bars_psql (LIKE market_data.raw_bars INCLUDING ALL)")
        began = time.perf_counter()
        command = f"\\copy public.raw_bars_psql ({', '.join(columns)}) FROM '{csv_path}' CSV HEADER"
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command], check=True)
        seconds = time.perf_counter() - began
        copied = conn.execute("SELECT count(*) FROM public.raw_bars_psql").fetchone()
    return seconds, int(copied[0]) if copied else 0


def run(files: int, days: int, chunk_days: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="backbone-bench-files-") as tmp, scratch_database() as url:
        directory = Path(tmp) / "csv"
        directory.mkdir()
        began = time.perf_counter()
        start, end = write_files(directory, files, days)
        generated = time.perf_counter() - began
        store = PostgresBarStore(url=url)
        store.ping()  # migrations run here, outside the timed part
        source = FileSource(directory=str(directory))
        began = time.perf_counter()
        report = land_raw(source, store, start, end, chunk_days)
        ours = time.perf_counter() - began
        source.close()
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        theirs, copied = psql_copy(store, url, Path(tmp), start, end)
        store.close()
    return {
        "files": files,
        "days": days,
        "chunk_days": chunk_days,
        "chunks": report.chunks,
        "generate_s": round(generated, 1),
        "rows": report.rows,
        "backbone_s": round(ours, 2),
        "backbone_rows_per_s": round(report.rows / ours),
        "peak_rss_mib": round(peak_mib),
        "psql_rows": copied,
        "psql_copy_s": round(theirs, 2),
        "psql_rows_per_s": round(copied / theirs),
        "ratio": round((report.rows / ours) / (copied / theirs), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--days", type=int, default=2500)
    parser.add_argument("--chunk-days", type=int, help="default: pipeline.chunk_days_for(files)")
    args = parser.parse_args()
    print(json.dumps(run(args.files, args.days, args.chunk_days or chunk_days_for(args.files))))


if __name__ == "__main__":
    main()
