"""Settings and an isolated Dagster instance for tests that run the real definitions."""

from __future__ import annotations

import shutil

import pytest

from backbone_ops.runner import PROJECT_DAGSTER_YAML
from backbone_resources.batch.settings import BatchSettings
from backbone_resources.cache.settings import CachePolicy, CacheSettings
from backbone_resources.settings import BackboneSettings, load_settings
from backbone_resources.stream.settings import StreamSettings
from backbone_tests.clock import TODAY

SYMBOLS = ["EURUSD", "AAPL"]
NO_STREAMING = StreamSettings(streaming_enabled=False)


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """A fresh instance configured as the bootstrap tier's (the project's dagster.yaml: batched event writes)."""
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def bootstrap(tmp_path, dagster_home) -> BackboneSettings:
    return load_settings(mode="bootstrap", home=tmp_path / "home", symbols=SYMBOLS, today=TODAY)


@pytest.fixture
def institutional(pg_database_url, redis_server_url, redis_namespace, dagster_home, tmp_path) -> BackboneSettings:
    # No Spark here: a test that runs the batch layer (it exports through Spark on this tier) asks for
    # spark_options, which starts the test session's one JVM (~10 s) with the test settings.
    # Kafka is not what these flows test: streaming off (test_stream_*.py give the broker).
    return load_settings(
        mode="institutional",
        timescale_url=pg_database_url,
        symbols=SYMBOLS,
        today=TODAY,
        stream=NO_STREAMING,
        redis_url=redis_server_url,
        cache=CacheSettings(policy=CachePolicy(namespace=redis_namespace)),  # Redis: a namespace per test
        batch=BatchSettings(export_dir=tmp_path / "exports"),  # exports per test, not ./.backbone
    )
