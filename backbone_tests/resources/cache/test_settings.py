"""Cache settings from the environment, and the tier's choice of backend (the one place: tiers.build_cache)."""

from __future__ import annotations

import dagster as dg
import pytest

from backbone_resources.settings import SettingsError, load_settings
from backbone_resources.tiers import build_cache


def test_cache_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BACKBONE_CACHE_NAMESPACE", "desk1")
    monkeypatch.setenv("BACKBONE_CACHE_BARS", "30")
    monkeypatch.setenv("BACKBONE_REDIS_POOL_SIZE", "9")
    monkeypatch.setenv("BACKBONE_REDIS_PASSWORD", "pw-from-env")
    conf = load_settings().cache
    assert (conf.policy.namespace, conf.policy.bars, conf.redis.pool_size) == ("desk1", 30, 9)
    assert "pw-from-env" not in repr(conf)


def test_bad_cache_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("BACKBONE_CACHE_NAMESPACE", "a:b")
    with pytest.raises(SettingsError, match="BACKBONE_CACHE_NAMESPACE"):
        load_settings()


def test_institutional_without_redis_url_fails_naming_it():
    settings = load_settings(mode="institutional", timescale_url="postgresql://u@h/db")
    with pytest.raises(SettingsError, match="BACKBONE_REDIS_URL is not set"):
        build_cache(settings)


def test_bootstrap_uses_a_disk_cache_under_home(tmp_path):
    cache = build_cache(load_settings(mode="bootstrap", home=tmp_path))
    assert type(cache).__name__ == "DiskHotCache"
    assert cache.describe()["endpoint"] == str((tmp_path / "hot_cache").resolve())


def test_institutional_credentials_are_env_vars_never_values(monkeypatch):
    monkeypatch.setenv("BACKBONE_REDIS_URL", "redis://svc:url-secret@127.0.0.1:6379/0")
    monkeypatch.setenv("BACKBONE_REDIS_PASSWORD", "pw-secret")
    settings = load_settings(mode="institutional", timescale_url="postgresql://u@h/db")
    cache = build_cache(settings)
    assert isinstance(cache.url, dg.EnvVar)
    assert isinstance(cache.redis.password, dg.EnvVar)
    with dg.build_resources({"cache": cache}) as resources:
        described = resources.cache.describe()
    assert "url-secret" not in str(described)
    assert described["endpoint"] == "redis://svc:***@127.0.0.1:6379/0"
