"""`pytest --containers` for real, in a child pytest: on a machine without a Docker engine the institutional
tests it selects skip naming Docker (or fail under BACKBONE_TEST_REQUIRE_SERVICES=1), and the tests that need no
service still run. Where a Docker engine answers, the option would start containers, so these checks skip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# One test per container: plain PostgreSQL, TimescaleDB, Redis, Kafka; plus a DuckDB one that needs none.
NODES = [
    "backbone_tests/resources/store/test_contract.py::test_round_trip_is_exact[postgres]",
    "backbone_tests/resources/store/test_contract.py::test_round_trip_is_exact[timescale]",
    "backbone_tests/resources/cache/test_contract.py::test_bar_on_date[redis]",
    "backbone_tests/resources/stream/test_contract.py::test_topic_is_created_once_and_reported[kafka]",
    "backbone_tests/resources/store/test_contract.py::test_round_trip_is_exact[duckdb]",
]


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - any failure to reach the engine means "no Docker here"
        return False
    return True


def _run_child(require_services: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKBONE_TEST_")}
    if require_services:
        env["BACKBONE_TEST_REQUIRE_SERVICES"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--containers", "-p", "no:cacheprovider", "-n", "0", "-q", "-rsfE", *NODES],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _counts(output: str) -> dict[str, int]:
    summary = output.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|skipped|failed|errors?)", summary)}


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_docker_answers(), reason="a Docker engine answers: --containers would start containers"),
]


def test_without_docker_the_container_tests_skip_naming_docker() -> None:
    result = _run_child(require_services=False)

    assert result.returncode == 0, result.stdout[-2000:]
    assert _counts(result.stdout) == {"passed": 1, "skipped": 4}, result.stdout[-2000:]
    reasons = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert reasons, result.stdout[-2000:]
    assert all("--containers needs a running Docker engine" in line for line in reasons), reasons


def test_without_docker_required_services_fail_naming_docker() -> None:
    result = _run_child(require_services=True)

    assert result.returncode == 1, result.stdout[-2000:]
    counts = _counts(result.stdout)
    assert counts.get("passed") == 1, result.stdout[-2000:]
    assert "skipped" not in counts, result.stdout[-2000:]
    assert counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0) == 4, counts
    assert "Docker engine" in result.stdout
    assert "BACKBONE_TEST_REQUIRE_SERVICES=1" in result.stdout
