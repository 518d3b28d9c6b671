"""Drills on real processes (issue 13): PostgreSQL restarted and ``kill -9``'d under a running backfill, and two
backfills over overlapping ranges at once. A private PostgreSQL cluster (``fixtures/own_postgres.py``) is the
store; ``backbone materialize`` runs as its own process, as a person runs it. Each drill prints its figures.

What must hold: no day is ever half stored (a day holds all of its bars or none), a re-run is exact (equal to
the source's bars validated independently), a run that died is recorded as failed in the Dagster instance, and
no raw row is landed twice.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from backbone_domain.validation import validate_bars
from backbone_resources.source.synthetic import SyntheticSource
from backbone_tests.clock import PINNED
from backbone_tests.fixtures.own_postgres import OwnPostgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BACKBONE = str(Path(sys.executable).parent / "backbone")
ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = [f"D{i:02d}" for i in range(10)]
START, END = dt.date(2014, 1, 1), dt.date(2017, 12, 29)
VALUES = ["open", "high", "low", "close", "adj_close", "volume"]


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def env(tmp_path, own_postgres, redis_server_url, redis_namespace) -> dict[str, str]:
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BACKBONE_", "DAGSTER_"))}
    return base | {
        **PINNED,
        "BACKBONE_MODE": "institutional",
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(dagster_home),
        "BACKBONE_TIMESCALE_URL": own_postgres.url,
        "BACKBONE_REDIS_URL": redis_server_url,
        "BACKBONE_CACHE_NAMESPACE": redis_namespace,
        "BACKBONE_STREAMING_ENABLED": "false",
        "BACKBONE_SYMBOLS": ",".join(SYMBOLS),
        "BACKBONE_START_DATE": str(START),
        "BACKBONE_CHUNK_DAYS": "30",
        "BACKBONE_PROGRESS_EVERY_S": "0.1",
        "BACKBONE_STORE_RETRY_DELAY_S": "0.5",
        "BACKBONE_PG_CONNECT_TIMEOUT_S": "2",
    }


def materialize(env: dict[str, str], start: dt.date = START, end: dt.date = END) -> subprocess.Popen[str]:
    command = [
        BACKBONE,
        "materialize",
        "--start",
        str(start),
        "--end",
        str(end),
        "--select",
        "daily_bars_raw,daily_bars",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_progress(proc: subprocess.Popen[str], step: str = "ingesting") -> list[str]:
    """Output lines up to the step's first progress line with figures: it is writing chunk after chunk."""
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if f"{step}: " in line and "chunks (through" in line:
            return lines
    raise AssertionError(f"no {step} progress before the run ended:\n{''.join(lines[-30:])}")


def expected_bars() -> pd.DataFrame:
    """The source's bars validated here, independently of the store: what an exact store holds."""
    raw = SyntheticSource(seed=42, symbols=SYMBOLS).fetch(START, END)
    accepted = validate_bars(raw, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)).accepted
    return accepted[["symbol", "ts", *VALUES]].sort_values(["symbol", "ts"]).reset_index(drop=True)


def stored_bars(url: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        columns = sql.SQL(", ").join(map(sql.Identifier, ["symbol", "ts", *VALUES]))
        rows = conn.execute(sql.SQL("SELECT {} FROM market_data.daily_bars").format(columns)).fetchall()
    frame = pd.DataFrame(rows, columns=["symbol", "ts", *VALUES]).astype({"symbol": object})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("us")
    return frame.sort_values(["symbol", "ts"]).reset_index(drop=True)


def partial_days(stored: pd.DataFrame, expected: pd.DataFrame) -> list[str]:
    """Days holding some of their bars but not all (a day is written in one chunk's transaction)."""
    have, want = stored.groupby("ts").size(), expected.groupby("ts").size()
    counts = pd.concat([have.rename("have"), want.rename("want")], axis=1).fillna(0)
    return [str(ts.date()) for ts, row in counts.iterrows() if 0 < row["have"] < row["want"]]


def raw_rows(url: str) -> int:
    """Rows landed: each raw partition day is one Arrow batch (raw_batches) holding row_count rows."""
    with psycopg.connect(url) as conn:
        (batched,) = conn.execute("SELECT coalesce(sum(row_count), 0) FROM market_data.raw_batches").fetchone()  # type: ignore[misc]
        (legacy,) = conn.execute("SELECT count(*) FROM market_data.raw_bars").fetchone()  # type: ignore[misc]
    return int(batched) + int(legacy)


def source_rows() -> int:
    return len(SyntheticSource(seed=42, symbols=SYMBOLS).fetch(START, END))


def assert_exact(url: str, expected: pd.DataFrame) -> None:
    """The store holds exactly the source's bars, and every source row was landed once."""
    pd.testing.assert_frame_equal(stored_bars(url), expected, check_exact=True)
    assert raw_rows(url) == source_rows()


def run_statuses(env: dict[str, str]) -> list[dg.DagsterRunStatus]:
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    with dg.DagsterInstance.get() as instance:
        return [run.status for run in instance.get_runs()]


def test_kill_9_of_postgres_mid_backfill_fails_the_run_leaves_no_partial_day_and_the_rerun_is_exact(
    env, own_postgres, monkeypatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    proc = materialize(env)
    wait_for_progress(proc)  # the flow is landing and writing chunk after chunk
    killed_at = time.monotonic()
    own_postgres.kill9()
    output, _ = proc.communicate(timeout=120)
    failed_after = time.monotonic() - killed_at
    assert proc.returncode == 1, output[-3000:]
    own_postgres.start()  # crash recovery from the WAL

    expected = expected_bars()
    stored = stored_bars(own_postgres.url)
    assert partial_days(stored, expected) == []
    assert 0 < len(stored) < len(expected)  # the kill landed mid-backfill
    assert dg.DagsterRunStatus.FAILURE in run_statuses(env)

    rerun = materialize(env)
    rest, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, rest[-3000:]
    assert_exact(own_postgres.url, expected)
    print(
        f"kill -9 drill: {len(stored)} of {len(expected)} bars stored when the server died, 0 partial days; "
        f"the run failed {failed_after:.1f} s after the kill; the re-run stored all {len(expected)} exactly"
    )


def test_a_postgres_restart_mid_backfill_is_retried_and_the_run_ends_exact(env, own_postgres, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    proc = materialize(env)
    wait_for_progress(proc)
    restarted_at = time.monotonic()
    own_postgres.restart()
    restart_s = time.monotonic() - restarted_at
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output[-3000:]
    retried = "STEP_UP_FOR_RETRY" in output or "retry" in output.lower()  # or the pool reconnected between chunks
    expected = expected_bars()
    assert_exact(own_postgres.url, expected)
    print(
        f"restart drill: PostgreSQL restarted in {restart_s:.1f} s mid-backfill; step retried: {retried}; "
        f"{len(expected)} bars exact"
    )


def test_two_overlapping_backfills_at_once_end_exact(env, own_postgres, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    middle = dt.date(2015, 7, 1)
    first, second = materialize(env, START, dt.date(2015, 12, 31)), materialize(env, middle, END)
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    expected = expected_bars()
    assert_exact(own_postgres.url, expected)
    print(f"overlapping backfills: {START}..2015-12-31 and {middle}..{END} at once: {len(expected)} bars exact")
