"""1,000,000 synthetic bars through source → validation → institutional store, against `psql \\copy`.

Both sides load the same rows into identical tables (same columns, same primary key) on the same server in
the same run. Our side includes generating the bars, validating them and writing them the way the store
always does (one transaction per chunk; a fresh range is COPYed straight in, anything else goes through a
staging table and INSERT … ON CONFLICT); psql's side is a plain COPY of a ready CSV.
Prints one JSON line with both rates and their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from backbone_domain.pipeline import date_chunks
from backbone_domain.validation import validate_bars
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.postgres_store import PostgresBarStore
from benchmarks._pg import psql_copy, scratch_database, universe


def run(symbols: int, start: dt.date, end: dt.date, chunk_days: int) -> dict[str, object]:
    source = SyntheticSource(symbols=universe(symbols))
    with scratch_database() as url:
        store = PostgresBarStore(url=url)
        store.ping()  # migrations run here, outside the timed part
        rows = 0
        began = time.perf_counter()
        for chunk_start, chunk_end in date_chunks(start, end, chunk_days):
            result = validate_bars(source.fetch(chunk_start, chunk_end))
            rows += store.write_validated(chunk_start, chunk_end, result.accepted, result.rejected).bars
        ours = time.perf_counter() - began
        store.close()

        copied, theirs = psql_copy(url)
    return {
        "rows": rows,
        "psql_rows": copied,
        "chunk_days": chunk_days,
        "backbone_s": round(ours, 2),
        "backbone_rows_per_s": round(rows / ours),
        "psql_copy_s": round(theirs, 2),
        "psql_rows_per_s": round(copied / theirs),
        "ratio": round((rows / ours) / (copied / theirs), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2016, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2023, 12, 8))
    parser.add_argument("--chunk-days", type=int, default=92)
    args = parser.parse_args()
    print(json.dumps(run(args.symbols, args.start, args.end, args.chunk_days)))


if __name__ == "__main__":
    main()
