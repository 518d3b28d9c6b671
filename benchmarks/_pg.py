"""A throw-away PostgreSQL database for one benchmark run, and psql's own load of the same rows."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get("BACKBONE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"backbone_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def settle(url: str = ADMIN_URL) -> None:
    """A CHECKPOINT before a timed side, so neither pays for the other's dirty pages: run after a backfill,
    psql's load met the checkpoint the backfill's WAL had made due (its time varied 8-25 s on one data set).
    Needs a superuser (the local server's ``postgres``); elsewhere nothing is done and the figures say less."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        pass


def universe(count: int) -> list[str]:
    """Made-up equity tickers S0001..S<count>: the synthetic source serves any well-formed symbol."""
    return [f"S{i:04d}" for i in range(1, count + 1)]


def psql_copy(url: str, table: str = "daily_bars", csv_path: Path | None = None) -> tuple[int, float]:
    """Rows and seconds of ``psql \\copy`` from one CSV into an empty table like ``market_data.<table>`` (a
    hypertable where the server has TimescaleDB and ``table`` is ``daily_bars``), in the database at ``url``.

    The CSV is ``csv_path`` when given (its columns in the table's order), else a dump of the table itself.
    Only the ``\\copy`` is timed.
    """
    with tempfile.TemporaryDirectory() as tmp, psycopg.connect(url, autocommit=True) as conn:
        source = sql.Identifier("market_data", table)
        if csv_path is None:
            csv_path = Path(tmp) / f"{table}.csv"
            with (
                csv_path.open("wb") as out,
                conn.cursor().copy(sql.SQL("COPY {} TO STDOUT (FORMAT csv)").format(source)) as copy,
            ):
                for block in copy:
                    out.write(block)
        target = sql.Identifier("public", f"{table}_psql")
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(target, source))
        timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        if timescale and table == "daily_bars":
            name = f"public.{table}_psql"
            conn.execute("SELECT create_hypertable(%s::regclass, by_range('ts', INTERVAL '365 days'))", (name,))
        settle(url)
        began = time.perf_counter()
        command = f"\\copy public.{table}_psql FROM '{csv_path}' CSV"
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command], check=True)
        seconds = time.perf_counter() - began
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()
    return (int(row[0]) if row else 0), seconds
