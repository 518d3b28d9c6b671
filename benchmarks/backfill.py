"""Backfills as a user runs them: ``backbone materialize`` over years of csv files, one run, both tiers.

Scenarios (issue 11): (a) 20 years x 3 symbols with every asset of the default selection; (b) 10 years x 500
symbols with the store assets (``daily_bars_raw,daily_bars``). Each runs in a child process of its own (its
peak RSS is its own): Yahoo-style csv files are written, ``runner.materialize`` runs the range as one run
(the code path of ``backbone materialize``), then the stored bars are dumped to one CSV and loaded with
``psql \\copy`` into an identical table (a hypertable where the server has TimescaleDB) on the local server.
Institutional: the store and the Dagster instance (BACKBONE_DAGSTER_PG_URL) in scratch databases, the local
Redis, a tansu broker, local Spark. Prints one JSON line per run: wall time both sides, their ratio, the
Dagster events the run wrote, peak RSS.

    python -m benchmarks.backfill                       # (a) and (b), both tiers
    python -m benchmarks.backfill --symbols 3 --years 20 --tier institutional
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from backbone_resources.store.postgres_store import PostgresBarStore
from benchmarks._broker import tansu
from benchmarks._pg import psql_copy, scratch_database, settle
from benchmarks.file_source import write_files

STORE_ASSETS = "daily_bars_raw,daily_bars"
SCENARIOS = [(3, 20, ""), (500, 10, STORE_ASSETS)]  # (symbols, years, selection; "" = the default)
LAST_DAY = dt.date(2018, 12, 31)


def run(tier: str, symbols: int, years: int, select: str, redis_url: str) -> dict[str, object]:
    from backbone_ops import runner
    from backbone_ops.resources import all_resources
    from backbone_resources.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        first = dt.date(LAST_DAY.year - years + 1, 1, 1)
        days = len(_weekdays(first, LAST_DAY))
        (work / "csv").mkdir()
        write_files(work / "csv", symbols, days, end=LAST_DAY)
        env = {
            "BACKBONE_MODE": tier,
            "BACKBONE_HOME": str(work / "home"),
            "BACKBONE_SOURCE": f"csv:{work / 'csv'}",
            "BACKBONE_START_DATE": str(first),
        }
        if tier == "institutional":
            env |= {
                "BACKBONE_TIMESCALE_URL": stack.enter_context(scratch_database()),
                "BACKBONE_DAGSTER_PG_URL": stack.enter_context(scratch_database()),
                "BACKBONE_REDIS_URL": redis_url,
                "BACKBONE_CACHE_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
                "BACKBONE_KAFKA_BOOTSTRAP": stack.enter_context(tansu()),
                "BACKBONE_KAFKA_TOPIC": f"bench.{uuid.uuid4().hex[:8]}",
                "BACKBONE_KAFKA_REPLICATION_FACTOR": "1",
            }
        os.environ.pop("DAGSTER_HOME", None)
        os.environ.update(env)
        settings = load_settings()
        start, end = runner.resolve_range(settings, first, LAST_DAY)
        runner.preflight(settings)  # migrations outside the timed part, as `backbone materialize` does first
        settle()  # psql's side gets the same
        began = time.perf_counter()
        result = runner.materialize(settings, start, end, [s for s in select.split(",") if s])
        ours = time.perf_counter() - began
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the run's, before the psql side
        with runner.instance(settings) as instance:
            events = len(instance.all_logs(result.run_id))
        with all_resources(settings) as resources:
            stored = resources.store.quality_counts().bars
        if tier == "institutional":
            psql_s = psql_copy(env["BACKBONE_TIMESCALE_URL"])[1]
        else:
            url = stack.enter_context(scratch_database())
            PostgresBarStore(url=url).ping()  # the same table, made by the store's migrations
            psql_s = psql_copy(url, "daily_bars", _duckdb_csv(work / "home" / "backbone.duckdb", work))[1]
    return {
        "tier": tier,
        "symbols": symbols,
        "years": years,
        "select": select or "default",
        "success": result.success,
        "bars": stored,
        "backbone_s": round(ours, 1),
        "psql_copy_s": round(psql_s, 1),
        "ratio": round(psql_s / ours, 3),
        "dagster_events": events,
        "peak_rss_mib": round(peak_mib),
        "load_average": os.getloadavg(),
    }


def _weekdays(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(d) for d in range((last - first).days + 1) if (first + dt.timedelta(d)).weekday() < 5]


def _duckdb_csv(database: Path, work: Path) -> Path:
    """The bootstrap store's bars as one CSV in the PostgreSQL table's column order (DuckDB writes it)."""
    import duckdb

    path = work / "bars.csv"
    with duckdb.connect(str(database), read_only=True) as conn:
        conn.sql(_BARS_IN_PG_ORDER).write_csv(str(path), header=False)
    return path


_BARS_IN_PG_ORDER = """SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at
    FROM market_data.daily_bars"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", choices=["bootstrap", "institutional", "both"], default="both")
    parser.add_argument("--symbols", type=int, help="one scenario: this many symbols (with --years)")
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--select", default="", help="asset names, comma-separated (default selection: empty)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.tier, args.symbols, args.years, args.select, args.redis_url)))
        return
    tiers = ["bootstrap", "institutional"] if args.tier == "both" else [args.tier]
    scenarios = [(args.symbols, args.years, args.select)] if args.symbols else SCENARIOS
    for tier in tiers:
        for symbols, years, select in scenarios:
            command = [sys.executable, "-m", "benchmarks.backfill", "--child", "--tier", tier]
            command += ["--symbols", str(symbols), "--years", str(years), "--select", select]
            command += ["--redis-url", args.redis_url]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            print(lines[-1] if lines else json.dumps({"tier": tier, "symbols": symbols, "error": done.stderr[-2000:]}))


if __name__ == "__main__":
    main()
