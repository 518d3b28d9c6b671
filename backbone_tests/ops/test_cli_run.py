"""The `backbone` run commands as a user runs them, settings from the environment: in process, and `check` and
`doctor` once each as the console script."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from backbone_domain.calendars import trading_days
from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_store
from backbone_tests.ops.cli_runner import run_in_process, run_process

pytestmark = pytest.mark.slow
NO_STREAMING = {"BACKBONE_STREAMING_ENABLED": "false"}  # Kafka is tested in test_cli_stream.py


_run = run_in_process


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_SYMBOLS": "EURUSD,GBPUSD,AAPL",
    }


def _bar_count(env: dict[str, str]) -> int:
    settings = load_settings(
        mode=env.get("BACKBONE_MODE", "bootstrap"),
        home=env["BACKBONE_HOME"],
        timescale_url=env.get("BACKBONE_TIMESCALE_URL"),
    )
    store = build_store(settings)
    try:
        return store.quality_counts().bars
    finally:
        getattr(store, "close", lambda: None)()


def test_bootstrap_half_year_twice_then_check_reports_stale(env):
    (Path(env["DAGSTER_HOME"])).mkdir()
    first = _run({**env, "BACKBONE_MODE": "bootstrap"}, "materialize", "--start", "2024-01-01", "--end", "2024-06-30")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "tier: bootstrap (BACKBONE_MODE=bootstrap)" in first.stdout
    rows = _bar_count(env)
    assert rows > 3 * 120

    second = _run({**env, "BACKBONE_MODE": "bootstrap"}, "materialize", "--start", "2024-01-01", "--end", "2024-06-30")
    assert second.returncode == 0, second.stderr
    assert _bar_count(env) == rows

    check = run_process({**env, "BACKBONE_MODE": "bootstrap"}, "check")
    assert check.returncode == 1, check.stdout + check.stderr
    fresh_line = next(line for line in check.stdout.splitlines() if "daily_bars_fresh" in line)
    assert fresh_line.startswith("FAIL (ERROR)")


@pytest.mark.postgres
def test_institutional_fills_market_data_daily_bars(env, pg_database_url, redis_server_url, redis_namespace):
    (Path(env["DAGSTER_HOME"])).mkdir()
    inst = {**env, "BACKBONE_MODE": "institutional", "BACKBONE_TIMESCALE_URL": pg_database_url, **NO_STREAMING}
    inst |= {"BACKBONE_REDIS_URL": redis_server_url, "BACKBONE_CACHE_NAMESPACE": redis_namespace}
    doctor = _run(inst, "doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "store.backend: postgresql" in doctor.stdout
    done = _run(inst, "materialize", "--start", "2024-01-01", "--end", "2024-01-31")
    assert done.returncode == 0, done.stdout + done.stderr
    expected = sum(
        len(trading_days(s, dt.date(2024, 1, 1), dt.date(2024, 1, 31))) for s in ("EURUSD", "GBPUSD", "AAPL")
    )
    with psycopg.connect(pg_database_url) as conn:
        stored = conn.execute("SELECT symbol, count(*) FROM market_data.daily_bars GROUP BY symbol").fetchall()
    assert sum(count for _, count in stored) == expected
    assert {symbol for symbol, _ in stored} == {"EURUSD", "GBPUSD", "AAPL"}


def test_institutional_with_unreachable_database_fails_naming_the_setting(env):
    bad = {
        **env,
        "BACKBONE_MODE": "institutional",
        "BACKBONE_TIMESCALE_URL": "postgresql://u:hunter2@127.0.0.1:1/x",
        **NO_STREAMING,
        "BACKBONE_REDIS_URL": "redis://127.0.0.1:6379/0",  # the store is what fails here
    }
    for run, args in ((run_process, ("doctor",)), (_run, ("materialize",))):
        result = run(bad, *args)
        assert result.returncode != 0
        assert "BACKBONE_TIMESCALE_URL" in result.stderr + result.stdout
        assert "hunter2" not in result.stderr + result.stdout


def test_institutional_without_url_fails_before_running(env):
    result = _run({**env, "BACKBONE_MODE": "institutional"}, "materialize")
    assert result.returncode == 2
    assert "BACKBONE_TIMESCALE_URL is not set" in result.stderr
