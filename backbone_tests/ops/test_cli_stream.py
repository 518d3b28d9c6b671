"""`backbone replay` and `backbone consume` as an operator runs them (bootstrap tier: the local log): in process,
and each once as the console script (the long-running bridge, stopped by SIGTERM; a replay request)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_stream
from backbone_tests.clock import PINNED
from backbone_tests.ops.cli_runner import BACKBONE, run_in_process, run_process

pytestmark = pytest.mark.slow
_run = run_in_process


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    (tmp_path / "dagster").mkdir()
    return {
        "BACKBONE_MODE": "bootstrap",
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_SYMBOLS": "EURUSD,AAPL",
        "BACKBONE_KAFKA_CONSUMER_GROUPS": "runtime",
        **PINNED,
    }


def _caught_up(env: dict[str, str], group: str, deadline_s: float = 60) -> None:
    """Wait until ``group`` has committed every message on the topic."""
    stream = build_stream(load_settings(mode="bootstrap", home=env["BACKBONE_HOME"]))
    deadline = time.monotonic() + deadline_s
    while (lag := stream.lag(group)) == [] or any(p.lag for p in lag):
        assert time.monotonic() < deadline, f"{group} did not catch up: {lag}"
        time.sleep(0.1)


def test_replay_then_consume_then_sigterm(env):
    select = "daily_bars_raw,daily_bars,daily_bars_kafka"
    done = _run(env, "materialize", "--start", "2024-01-01", "--end", "2024-01-31", "--select", select)
    assert done.returncode == 0, done.stdout + done.stderr

    replay = _run(env, "replay", "--start", "2024-01-01", "--end", "2024-01-31", "--symbols", "AAPL")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "replayed 21 bars" in replay.stdout  # AAPL's NYSE sessions in January 2024

    printed = _run(env, "consume", "--group", "audit", "--handler", "print", "--idle-timeout", "3")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert len(lines) == len(set(lines))  # the replayed AAPL copies were dropped
    assert '"origin": "replay"' not in printed.stdout
    assert "skipped 21 duplicate" in printed.stderr

    # the default handler (hot cache) under a long-running bridge, stopped by SIGTERM: clean exit, offsets kept
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKBONE_")}
    bridge = subprocess.Popen(
        [BACKBONE, "consume", "--group", "runtime"],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert bridge.stderr is not None
    started = bridge.stderr.readline()  # printed just before the bridge installs its SIGTERM handler
    assert "consuming" in started, started
    _caught_up(env, "runtime")  # a condition, not a fixed sleep: the bridge has handled and committed all
    bridge.send_signal(signal.SIGTERM)
    _, err = bridge.communicate(timeout=30)
    assert bridge.returncode == 0, err
    assert "handled" in err

    check = _run(env, "check", "--json")
    assert '"check": "daily_bars_kafka:kafka_consumer_lag"' in check.stdout
    assert '"total_lag": 0' in check.stdout


def test_replay_with_request_leaves_it_for_the_sensor(env):
    requested = run_process(env, "replay", "--start", "2024-01-02", "--end", "2024-01-03", "--request")
    assert requested.returncode == 0, requested.stderr
    assert "kafka_replay_sensor" in requested.stdout
