"""Shared fixtures: real services (PostgreSQL, TimescaleDB over WASM) live in backbone_tests/services.py;
`--containers` (backbone_tests/containers.py) swaps them for Docker containers."""

pytest_plugins = ["backbone_tests.containers", "backbone_tests.services"]
