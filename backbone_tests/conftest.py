"""Shared fixtures: one module per real service under backbone_tests/fixtures/ (PostgreSQL, the WASM
TimescaleDB, the tansu broker, Redis, Spark); `--containers` (backbone_tests/containers.py) swaps them for
Docker containers. Hypothesis profiles: backbone_tests/hypothesis_profiles.py."""

pytest_plugins = [
    "backbone_tests.containers",
    "backbone_tests.fixtures.postgres",
    "backbone_tests.fixtures.timescale",
    "backbone_tests.fixtures.broker",
    "backbone_tests.fixtures.redis",
    "backbone_tests.fixtures.spark",
    "backbone_tests.hypothesis_profiles",
]
