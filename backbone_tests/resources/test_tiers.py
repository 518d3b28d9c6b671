"""The (tier, family) -> backend table, the tier decided once, the family settings reaching the backend whole,
and the UI kinds taken from the backends actually built."""

from __future__ import annotations

import itertools
from typing import get_args

import dagster as dg
import pytest

from backbone_assets.definitions import build_defs
from backbone_resources import tiers
from backbone_resources.cache.settings import RedisSettings
from backbone_resources.settings import BackboneSettings, Tier, load_settings
from backbone_resources.stream.settings import KafkaSettings, StreamSettings

ENDPOINTS = {
    "timescale_url": "postgresql://u:p@127.0.0.1:1/x",
    "redis_url": "redis://127.0.0.1:1/0",
    "kafka_bootstrap": "127.0.0.1:1",
}
EXPECTED = {
    ("bootstrap", "source"): "SyntheticSource",
    ("bootstrap", "store"): "DuckDBBarStore",
    ("bootstrap", "cache"): "DiskHotCache",
    ("bootstrap", "stream"): "LocalLogStream",
    ("bootstrap", "batch"): "DuckDBBatch",
    ("institutional", "source"): "SyntheticSource",
    ("institutional", "store"): "PostgresBarStore",
    ("institutional", "cache"): "RedisHotCache",
    ("institutional", "stream"): "KafkaStream",
    ("institutional", "batch"): "SparkBatch",
}


@pytest.fixture
def settings(tmp_path) -> BackboneSettings:
    return load_settings(home=tmp_path, **ENDPOINTS)  # every endpoint set: either tier can be built


def test_the_table_covers_every_tier_and_family():
    assert set(tiers.BACKENDS) == set(itertools.product(get_args(Tier), tiers.FAMILIES)) == set(EXPECTED)


@pytest.mark.parametrize(("tier", "family"), sorted(EXPECTED))
def test_every_tier_and_family_builds_the_expected_backend(settings, tier, family):
    built = tiers.build(settings, family, tier)
    assert type(built).__name__ == EXPECTED[(tier, family)]
    assert isinstance(built, dg.ConfigurableResource)


@pytest.mark.parametrize("tier", get_args(Tier))
def test_streaming_off_is_the_disabled_stream_on_either_tier(settings, tier):
    off = settings.model_copy(update={"stream": StreamSettings(streaming_enabled=False)})
    assert type(tiers.build(off, "stream", tier)).__name__ == "DisabledStream"


def test_the_tier_is_decided_once_per_build(settings, monkeypatch):
    calls = []
    decide = BackboneSettings.tier
    monkeypatch.setattr(BackboneSettings, "tier", lambda self: calls.append(1) or decide(self))
    tiers.build_resources(settings.model_copy(update={"mode": "institutional"}))
    assert len(calls) == 1


def test_the_backends_hold_the_family_settings_the_environment_gave(monkeypatch, tmp_path):
    """A new Redis or Kafka option is a field of RedisSettings / KafkaSettings: nothing in between copies it."""
    monkeypatch.setenv("BACKBONE_REDIS_POOL_SIZE", "9")
    monkeypatch.setenv("BACKBONE_REDIS_SSL_CERTFILE", "/etc/ssl/c.pem")
    monkeypatch.setenv("BACKBONE_KAFKA_CLIENT_ID", "desk-7")
    monkeypatch.setenv("BACKBONE_KAFKA_DELIVERY_TIMEOUT_S", "30")
    settings = load_settings(mode="institutional", home=tmp_path, **ENDPOINTS)
    cache, stream = tiers.build(settings, "cache"), tiers.build(settings, "stream")
    assert cache.redis == settings.cache.redis
    assert isinstance(cache.redis, RedisSettings)
    assert stream.kafka == settings.stream.kafka
    assert isinstance(stream.kafka, KafkaSettings)
    assert (cache.redis.pool_size, cache.redis.ssl_certfile) == (9, "/etc/ssl/c.pem")
    assert (stream.kafka.client_id, stream.kafka.delivery_timeout_s) == ("desk-7", 30.0)
    assert stream.policy == settings.stream.policy
    assert cache.policy == settings.cache.policy


def _asset_kinds(defs: dg.Definitions) -> dict[str, set[str]]:
    return {
        spec.key.to_user_string(): {k.removeprefix("dagster/kind/") for k in spec.tags if k.startswith("dagster/kind/")}
        for spec in defs.resolve_all_asset_specs()
    }


@pytest.mark.parametrize("mode", get_args(Tier))
def test_ui_kinds_come_from_the_backends_built(settings, mode):
    defs = build_defs(settings.model_copy(update={"mode": mode}))
    built = {family: type(defs.resources[family]).kinds for family in ("store", "cache", "stream", "batch")}
    assert tiers.layer_kinds(defs.resources) == {family: set(kinds) for family, kinds in built.items()}
    kinds = _asset_kinds(defs)
    assert kinds["daily_bars"] == set(built["store"])
    assert kinds["daily_bars_hot_cache"] == set(built["cache"])
    assert kinds["daily_bars_kafka"] == set(built["stream"])
    assert kinds["daily_bars_parquet"] == kinds["retention_audit"] == set(built["batch"])


def test_the_read_replica_url_reaches_the_store_as_its_variable_and_is_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKBONE_TIMESCALE_READ_URL", "postgresql://u:replica-pw@127.0.0.1:2/x")
    monkeypatch.setenv("BACKBONE_TIMESCALE_READ_MAX_WAIT_S", "2.5")
    settings = load_settings(home=tmp_path, **ENDPOINTS)
    store = tiers.build(settings, "store", "institutional")
    assert store.read_url == dg.EnvVar("BACKBONE_TIMESCALE_READ_URL")  # the UI shows the name, not the password
    assert store.read_max_wait_s == 2.5
    assert "replica-pw" in settings.secrets()

    monkeypatch.delenv("BACKBONE_TIMESCALE_READ_URL")
    assert tiers.build(load_settings(home=tmp_path, **ENDPOINTS), "store", "institutional").read_url is None
