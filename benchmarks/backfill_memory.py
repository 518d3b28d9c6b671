"""Peak memory of a 500-symbol backfill through the real flow (land raw → validate → store, chunked).

Each range runs in a fresh subprocess so peak RSS (ru_maxrss) belongs to that range alone. If memory is
bounded by a chunk, the 10-year peak is about the 1-year peak.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time


def child(url: str, symbols: int, years: int, chunk_days: int) -> None:
    from backbone_domain.pipeline import land_raw, validate_and_store
    from backbone_resources.source.synthetic import SyntheticSource
    from backbone_resources.store.postgres_store import PostgresBarStore
    from benchmarks._pg import universe

    end = dt.date(2023, 12, 31)
    start = dt.date(end.year - years + 1, 1, 1)
    source = SyntheticSource(symbols=universe(symbols))
    store = PostgresBarStore(url=url, schema_name=f"mem_{years}y")
    store.ping()
    began = time.perf_counter()
    landed = land_raw(source, store, start, end, chunk_days)
    stored = validate_and_store(store, start, end, chunk_days)
    store.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "years": years,
                "symbols": symbols,
                "chunk_days": chunk_days,
                "raw_rows": landed.rows,
                "bars": stored.accepted,
                "seconds": round(time.perf_counter() - began, 1),
                "peak_rss_mib": round(peak_mib),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--chunk-days", type=int, default=31)
    parser.add_argument("--child", nargs=2, metavar=("URL", "YEARS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.symbols, int(args.child[1]), args.chunk_days)
        return
    from benchmarks._pg import scratch_database

    with scratch_database() as url:
        for years in args.years:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.backfill_memory",
                    "--child",
                    url,
                    str(years),
                    "--symbols",
                    str(args.symbols),
                    "--chunk-days",
                    str(args.chunk_days),
                ],
                check=True,
            )


if __name__ == "__main__":
    main()
