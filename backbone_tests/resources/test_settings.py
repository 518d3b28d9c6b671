import datetime as dt

import pytest

from backbone_resources.settings import SettingsError, load_settings
from backbone_resources.tiers import build_resources

ENDPOINTS = {
    "BACKBONE_TIMESCALE_URL": "postgresql://u:pw@db:5432/x",
    "BACKBONE_REDIS_URL": "redis://cache:6379/0",
    "BACKBONE_KAFKA_BOOTSTRAP": "kafka:9092",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in [*ENDPOINTS, "BACKBONE_MODE", "BACKBONE_SYMBOLS", "BACKBONE_START_DATE", "BACKBONE_SOURCE"]:
        monkeypatch.delenv(name, raising=False)


def test_defaults_pick_bootstrap_and_say_which_endpoints_are_missing():
    choice = load_settings().tier()
    assert choice.tier == "bootstrap"
    assert "BACKBONE_TIMESCALE_URL" in choice.reason


def test_all_endpoints_set_picks_institutional(monkeypatch):
    for name, value in ENDPOINTS.items():
        monkeypatch.setenv(name, value)
    assert load_settings().tier().tier == "institutional"


def test_explicit_mode_wins_over_endpoints(monkeypatch):
    for name, value in ENDPOINTS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BACKBONE_MODE", "bootstrap")
    choice = load_settings().tier()
    assert (choice.tier, choice.reason) == ("bootstrap", "BACKBONE_MODE=bootstrap")


def test_institutional_without_database_url_names_the_setting(monkeypatch):
    monkeypatch.setenv("BACKBONE_MODE", "institutional")
    with pytest.raises(SettingsError, match="BACKBONE_TIMESCALE_URL is not set"):
        build_resources(load_settings())


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BACKBONE_START_DATE", "2024-13-01", "BACKBONE_START_DATE"),
        ("BACKBONE_MODE", "cloud", "BACKBONE_MODE"),
        ("BACKBONE_SYMBOLS", "AAPL,not a symbol", "BACKBONE_SYMBOLS"),
        ("BACKBONE_SOURCE", "ftp://x", "BACKBONE_SOURCE"),
        ("BACKBONE_SOURCE_SYMBOL_MAP", "BRK B", "BACKBONE_SOURCE_SYMBOL_MAP"),
        ("BACKBONE_SOURCE_SYMBOL_MAP", "BRK B=not a symbol", "BACKBONE_SOURCE_SYMBOL_MAP"),
        ("BACKBONE_SOURCE_BAD_FILES", "ignore", "BACKBONE_SOURCE_BAD_FILES"),
        ("BACKBONE_VERSION_RETENTION_DAYS", "-1", "BACKBONE_VERSION_RETENTION_DAYS"),
        ("BACKBONE_VERSION_RETENTION_DAYS", "a year", "BACKBONE_VERSION_RETENTION_DAYS"),
    ],
)
def test_malformed_settings_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_symbol_map_is_comma_separated_name_symbol_pairs(monkeypatch):
    monkeypatch.setenv("BACKBONE_SOURCE_SYMBOL_MAP", "BRK B=brk.b, ÄPFEL.csv = APFEL ,")
    assert load_settings().source_symbol_map == {"BRK B": "BRK.B", "ÄPFEL.csv": "APFEL"}


def test_symbols_are_a_comma_list(monkeypatch):
    monkeypatch.setenv("BACKBONE_SYMBOLS", " eurusd, AAPL ,")
    monkeypatch.setenv("BACKBONE_START_DATE", "2020-01-02")
    settings = load_settings()
    assert settings.symbols == ["EURUSD", "AAPL"]
    assert settings.start_date == dt.date(2020, 1, 2)


def test_version_retention_reaches_the_policy_and_defaults_to_forever(monkeypatch):
    now = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
    monkeypatch.delenv("BACKBONE_VERSION_RETENTION_DAYS", raising=False)
    assert build_resources(load_settings())["policy"].version_horizon(now) is None

    monkeypatch.setenv("BACKBONE_VERSION_RETENTION_DAYS", "30")
    policy = build_resources(load_settings())["policy"]

    assert policy.version_retention_days == 30
    assert policy.version_horizon(now) == dt.datetime(2026, 11, 6, 9, 30, tzinfo=dt.UTC)
