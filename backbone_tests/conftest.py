"""Shared fixtures: real services (PostgreSQL, TimescaleDB over WASM) live in backbone_tests/services.py."""

pytest_plugins = ["backbone_tests.services"]
