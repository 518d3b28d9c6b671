"""Settings and an isolated Dagster instance for tests that run the real definitions."""

from __future__ import annotations

import pytest

from backbone_resources.settings import BackboneSettings, load_settings

SYMBOLS = ["EURUSD", "AAPL"]


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "dagster"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def bootstrap(tmp_path, dagster_home) -> BackboneSettings:
    return load_settings(mode="bootstrap", home=tmp_path / "home", symbols=SYMBOLS)


@pytest.fixture
def institutional(pg_database_url, dagster_home) -> BackboneSettings:
    return load_settings(mode="institutional", timescale_url=pg_database_url, symbols=SYMBOLS)
