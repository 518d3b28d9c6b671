"""The store path alone against `psql \\copy`: ``pipeline.ingest`` (land, validate, store), no Dagster.

500 synthetic symbols x 10 years (~1.26M bars) through the domain function the assets call when a run selects
both store layers (``ingest``; ``--two-pass``: ``land_raw`` then ``validate_and_store``, as a run of one layer
at a time does) into a scratch database: once on a fresh range, then again over the same range
(a re-run: every chunk replaces its raw rows and rewrites bars that already exist). psql's side is ``\\copy``
of the stored bars, already in a CSV file, into an identical table (a hypertable when the server has
TimescaleDB), on the same server in the same run. Prints one JSON line: each side's time and rate, the two
ratios, and peak RSS. ``--profile FILE`` writes a cProfile of the fresh run instead of timing psql.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import resource
import time

from backbone_domain.pipeline import chunk_days_for, ingest, land_raw, validate_and_store
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.postgres_store import PostgresBarStore
from benchmarks._pg import psql_copy, scratch_database, settle, universe


def _ours(
    store: PostgresBarStore, source: SyntheticSource, start: dt.date, end: dt.date, days: int, two_pass: bool
) -> dict:
    settle()  # as psql's side: neither pays for the other's dirty pages
    began = time.perf_counter()
    if two_pass:
        landed = land_raw(source, store, start, end, days)
        stored = validate_and_store(store, start, end, days)
    else:
        landed, stored = ingest(source, store, start, end, days)
    seconds = time.perf_counter() - began
    return {"raw": landed.rows, "bars": stored.accepted, "changed": stored.changed, "seconds": seconds}


def run(symbols: int, years: int, chunk_days: int, profile: str | None, two_pass: bool) -> dict[str, object]:
    end = dt.date(2023, 12, 31)
    start = dt.date(end.year - years + 1, 1, 1)
    source = SyntheticSource(symbols=universe(symbols))
    with scratch_database() as url:
        store = PostgresBarStore(url=url)
        store.ping()  # migrations run here, outside the timed part
        timescale = bool(store.describe()["timescaledb"])
        if profile:
            with cProfile.Profile() as profiler:
                fresh = _ours(store, source, start, end, chunk_days, two_pass)
            profiler.dump_stats(profile)
            store.close()
            return {"profile": profile, "seconds": round(fresh["seconds"], 2)}
        fresh = _ours(store, source, start, end, chunk_days, two_pass)
        rerun = _ours(store, source, start, end, chunk_days, two_pass)
        store.close()
        copied, theirs = psql_copy(url)
    psql_rate = copied / theirs
    return {
        "path": "land_raw+validate_and_store" if two_pass else "ingest",
        "symbols": symbols,
        "years": years,
        "chunk_days": chunk_days,
        "bars": fresh["bars"],
        "psql_rows": copied,
        "timescaledb": timescale,
        "fresh_s": round(fresh["seconds"], 2),
        "fresh_bars_per_s": round(fresh["bars"] / fresh["seconds"]),
        "rerun_s": round(rerun["seconds"], 2),
        "rerun_bars_per_s": round(rerun["bars"] / rerun["seconds"]),
        "rerun_changed": rerun["changed"],
        "psql_copy_s": round(theirs, 2),
        "psql_rows_per_s": round(psql_rate),
        "fresh_ratio": round(fresh["bars"] / fresh["seconds"] / psql_rate, 3),
        "rerun_ratio": round(rerun["bars"] / rerun["seconds"] / psql_rate, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--chunk-days", type=int, help="default: pipeline.chunk_days_for(symbols)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the fresh run into FILE; no psql side")
    parser.add_argument("--two-pass", action="store_true", help="land_raw, then validate_and_store")
    args = parser.parse_args()
    chunk_days = args.chunk_days or chunk_days_for(args.symbols)
    print(json.dumps(run(args.symbols, args.years, chunk_days, args.profile, args.two_pass)))


if __name__ == "__main__":
    main()
