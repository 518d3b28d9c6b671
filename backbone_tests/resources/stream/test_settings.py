"""Stream settings and the tier's choice of stream backend; secrets stay out of what is shown."""

from __future__ import annotations

import dagster as dg
import pytest

from backbone_resources.settings import SettingsError, load_settings
from backbone_resources.tiers import build_stream

INSTITUTIONAL = {"mode": "institutional", "timescale_url": "postgresql://u:p@db/x", "redis_url": "redis://r:6379/0"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("BACKBONE_KAFKA_BOOTSTRAP", "BACKBONE_STREAMING_ENABLED", "BACKBONE_KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_institutional_without_bootstrap_fails_naming_it():
    with pytest.raises(SettingsError, match="BACKBONE_KAFKA_BOOTSTRAP is not set"):
        build_stream(load_settings(**INSTITUTIONAL))


def test_streaming_flag_off_gives_a_disabled_stream_without_a_broker(monkeypatch):
    monkeypatch.setenv("BACKBONE_STREAMING_ENABLED", "false")
    stream = build_stream(load_settings(**INSTITUTIONAL))
    assert (type(stream).__name__, stream.enabled) == ("DisabledStream", False)


def test_environment_settings_reach_the_kafka_client_and_the_password_stays_hidden(monkeypatch):
    monkeypatch.setenv("BACKBONE_KAFKA_BOOTSTRAP", "k1:9093,k2:9093")
    monkeypatch.setenv("BACKBONE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("BACKBONE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("BACKBONE_KAFKA_SASL_USERNAME", "backbone")
    monkeypatch.setenv("BACKBONE_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("BACKBONE_KAFKA_PRODUCER_CONFIG", '{"linger.ms": 50}')
    monkeypatch.setenv("BACKBONE_KAFKA_CONSUMER_GROUPS", "runtime, risk")
    monkeypatch.setenv("BACKBONE_KAFKA_LAG_WARN_S", "120")
    settings = load_settings(**INSTITUTIONAL)
    assert "hunter2" not in repr(settings)
    stream = build_stream(settings)
    assert isinstance(stream.kafka.sasl_password, dg.EnvVar)  # the UI shows the variable, not the value
    assert stream.consumer_groups == ["runtime", "risk"]
    assert (stream.lag_warn, stream.lag_warn_s) == (10_000, 120.0)
    assert "hunter2" not in str(stream.describe())
    with dg.build_resources({"stream": stream}) as resources:
        conf = resources.stream.producer_conf()
    assert conf["sasl.password"] == "hunter2"
    assert (conf["security.protocol"], conf["sasl.mechanism"], conf["linger.ms"]) == ("SASL_SSL", "SCRAM-SHA-512", "50")
    assert (conf["enable.idempotence"], conf["acks"]) == (True, "all")


def test_bad_protocol_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("BACKBONE_KAFKA_SECURITY_PROTOCOL", "PLAIN")
    with pytest.raises(SettingsError, match="BACKBONE_KAFKA_SECURITY_PROTOCOL"):
        load_settings()
