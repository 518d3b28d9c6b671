"""Secret files (``BACKBONE_<NAME>_FILE``, the Docker-secrets convention): read when settings load, handed to
Dagster as a path (never the value), read again by the backend when it builds a client, so a rotated file is
seen by the next run or client without a restart. Fast: no server is contacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backbone_resources import tiers
from backbone_resources.settings import SettingsError, load_settings

PG_URL = "postgresql://backbone:pgFileS3cret@127.0.0.1:5432/market"


def _file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def institutional(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKBONE_MODE", "institutional")
    monkeypatch.setenv("BACKBONE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BACKBONE_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("BACKBONE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    for name in ("BACKBONE_TIMESCALE_URL", "BACKBONE_REDIS_PASSWORD", "BACKBONE_KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKBONE_TIMESCALE_URL_FILE", _file(tmp_path, "timescale_url", PG_URL))
    monkeypatch.setenv("BACKBONE_REDIS_PASSWORD_FILE", _file(tmp_path, "redis", "redisFileS3cret"))
    monkeypatch.setenv("BACKBONE_KAFKA_SASL_PASSWORD_FILE", _file(tmp_path, "sasl", "saslFileS3cret"))
    monkeypatch.setenv("BACKBONE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("BACKBONE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("BACKBONE_KAFKA_SASL_USERNAME", "backbone")
    return tmp_path


def test_settings_read_each_secret_from_its_file_and_know_it_as_a_secret(institutional):
    settings = load_settings()
    assert settings.timescale_url.get_secret_value() == PG_URL
    assert settings.cache.redis.password == "redisFileS3cret"
    assert settings.stream.kafka.sasl_password == "saslFileS3cret"
    assert settings.tier().tier == "institutional"
    assert {"pgFileS3cret", "redisFileS3cret", "saslFileS3cret"} <= set(settings.secrets())


def test_resources_hold_the_files_paths_never_the_secrets_and_read_them_at_each_client(institutional):
    settings = load_settings()
    store, cache, stream = (tiers.build(settings, f) for f in ("store", "cache", "stream"))
    config = json.dumps([r.model_dump(mode="json") for r in (store, cache, stream)])
    assert not any(s in config for s in ("pgFileS3cret", "redisFileS3cret", "saslFileS3cret"))
    assert store.url_file == str(institutional / "timescale_url")
    assert cache.redis.password_file == str(institutional / "redis")
    assert stream.kafka.sasl_password_file == str(institutional / "sasl")
    assert store._url() == PG_URL
    assert cache._password() == "redisFileS3cret"
    assert stream.producer_conf()["sasl.password"] == "saslFileS3cret"

    _file(institutional, "sasl", "saslRotatedS3cret")  # a rotation: the next client built reads the new one
    _file(institutional, "redis", "redisRotatedS3cret")
    assert stream.producer_conf()["sasl.password"] == "saslRotatedS3cret"
    assert cache._password() == "redisRotatedS3cret"
    assert "saslRotatedS3cret" in load_settings().secrets()


@pytest.mark.parametrize(
    ("variable", "content", "expected"),
    [
        ("BACKBONE_REDIS_PASSWORD", None, "both BACKBONE_REDIS_PASSWORD and BACKBONE_REDIS_PASSWORD_FILE are set"),
        ("BACKBONE_KAFKA_SASL_PASSWORD_FILE", "", "BACKBONE_KAFKA_SASL_PASSWORD_FILE: the secret file"),
        ("BACKBONE_TIMESCALE_URL_FILE", "missing", "BACKBONE_TIMESCALE_URL_FILE: cannot read the secret file"),
    ],
)
def test_a_bad_secret_file_fails_at_start_naming_the_variable_never_the_value(
    institutional, monkeypatch, variable, content, expected
):
    if variable == "BACKBONE_REDIS_PASSWORD":
        monkeypatch.setenv(variable, "redisEnvS3cret")
    elif content == "":
        (institutional / "sasl").write_text("\n")
    else:
        monkeypatch.setenv(variable, str(institutional / content))
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert expected in str(raised.value)
    assert not any(s in str(raised.value) for s in ("S3cret",))
