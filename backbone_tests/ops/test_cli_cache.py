"""`backbone bars` and `backbone cache` as a user runs them, settings from the environment: in process, and each
once as the console script (its counters in Redis or diskcache add up across processes)."""

from __future__ import annotations

import json
import subprocess

import pytest

from backbone_tests.ops.cli_runner import run_in_process, run_process

pytestmark = pytest.mark.slow
CACHE_FLOW = "daily_bars_raw,daily_bars,weekly_bars,daily_bars_hot_cache"


_run = run_in_process


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    (tmp_path / "dagster").mkdir()
    return {
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_SYMBOLS": "EURUSD,AAPL",
        "BACKBONE_STREAMING_ENABLED": "false",
        "BACKBONE_CACHE_MIN_READS": "2",
    }


def _json(done: subprocess.CompletedProcess[str]) -> object:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.mark.postgres
@pytest.mark.redis
def test_institutional_bars_answer_from_redis_and_check_reports_the_ratio(
    env, pg_database_url, redis_server_url, redis_namespace
):
    inst = {
        **env,
        "BACKBONE_MODE": "institutional",
        "BACKBONE_TIMESCALE_URL": pg_database_url,
        "BACKBONE_REDIS_URL": redis_server_url,
        "BACKBONE_CACHE_NAMESPACE": redis_namespace,
    }
    done = _run(inst, "materialize", "--start", "2024-01-01", "--end", "2024-03-29", "--select", CACHE_FLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    before = _json(_run(inst, "cache", "stats", "--json"))
    assert (before["backend"], before["keys"], before["hits"]) == ("redis", 2, 0)

    answer = _json(_run(inst, "bars", "EURUSD", "--last", "5", "--json"))
    assert answer["served_by"] == "cache"
    assert [bar["date"] for bar in answer["bars"]][-1] == "2024-03-29"
    assert len(answer["bars"]) == 5
    on = _json(_run(inst, "bars", "EURUSD", "--on", "2024-03-28", "--json"))
    assert (on["served_by"], on["bars"][0]["close"]) == ("cache", answer["bars"][-2]["close"])

    after = _json(_run(inst, "cache", "stats", "--json"))
    assert (after["hits"], after["misses"], after["hit_ratio"]) == (2, 0, 1.0)
    assert after["memory_bytes"] > 0

    check = _run(inst, "check", "--json")
    rows = {row["check"].split(":")[1]: row for row in json.loads(check.stdout)}
    ratio = rows["hot_cache_hit_ratio"]
    assert ratio["passed"] is True
    assert (ratio["metadata"]["hit_ratio"], ratio["metadata"]["hits"]) == (1.0, 2)
    assert ratio["metadata"]["backend"] == "redis"
    assert rows["hot_cache_matches_store"]["passed"] is True

    ping = _run(inst, "cache", "ping")
    assert ping.returncode == 0, ping.stderr
    assert "cache ok: redis" in ping.stdout


def test_bootstrap_bars_miss_then_hit_and_unreachable_redis_is_reported(env):
    boot = {**env, "BACKBONE_MODE": "bootstrap"}
    done = _run(boot, "materialize", "--start", "2024-01-02", "--end", "2024-01-12", "--select", CACHE_FLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    first = run_process(boot, "bars", "AAPL", "--last", "3")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "served by cache"
    stats = _json(_run(boot, "cache", "stats", "--json"))
    assert (stats["backend"], stats["hits"]) == ("diskcache", 1)

    down = {**env, "BACKBONE_MODE": "institutional", "BACKBONE_TIMESCALE_URL": "postgresql://u@127.0.0.1:1/x"}
    down["BACKBONE_REDIS_URL"] = "redis://:hunter2@127.0.0.1:1/0"
    ping = run_process(down, "cache", "ping")
    assert ping.returncode == 1
    assert "BACKBONE_REDIS_URL" in ping.stderr
    assert "hunter2" not in ping.stdout + ping.stderr
    missing = _run(
        {**env, "BACKBONE_MODE": "institutional", "BACKBONE_TIMESCALE_URL": "postgresql://u@h/x"}, "bars", "AAPL"
    )
    assert missing.returncode == 2
    assert "BACKBONE_REDIS_URL is not set" in missing.stderr
