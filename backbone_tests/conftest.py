"""Shared fixtures: one module per real service under backbone_tests/fixtures/ (PostgreSQL, the WASM
TimescaleDB, the tansu broker, Redis, Spark); `--containers` (backbone_tests/containers.py) swaps them for
Docker containers. "Today" is pinned for every test (backbone_tests/clock.py);
Hypothesis profiles: backbone_tests/hypothesis_profiles.py."""

import pytest

from backbone_tests.clock import PINNED

pytest_plugins = [
    "backbone_tests.containers",
    "backbone_tests.fixtures.postgres",
    "backbone_tests.fixtures.postgres_replica",
    "backbone_tests.fixtures.timescale",
    "backbone_tests.fixtures.broker",
    "backbone_tests.fixtures.entry_points",
    "backbone_tests.fixtures.redis",
    "backbone_tests.fixtures.spark",
    "backbone_tests.hypothesis_profiles",
    "backbone_tests.xdist_groups",
]


@pytest.fixture(autouse=True)
def _pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read in process see BACKBONE_TODAY; CLI tests with their own environment add ``PINNED``."""
    for name, value in PINNED.items():
        monkeypatch.setenv(name, value)
