"""The code location's shape: same asset graph in both tiers, only the resources differ."""

import dagster as dg

from backbone_assets.definitions import build_defs
from backbone_resources.settings import load_settings

ASSETS = {"daily_bars_raw", "daily_bars", "weekly_bars", "daily_bars_hot_cache"}
ASSETS |= {"daily_bars_parquet", "daily_returns", "retention_audit"}
ASSETS |= {"daily_bars_kafka"}
CHECKS = {
    "daily_bars_fresh",
    "daily_bars_unique_keys",
    "daily_bars_ohlc_consistent",
    "daily_bars_rejected_rate",
    "hot_cache_hit_ratio",
    "hot_cache_matches_store",
    "daily_bars_parquet_matches_store",
    "daily_bars_parquet_unique_keys",
    "daily_returns_matches_bars",
    "daily_returns_unique_keys",
    "kafka_consumer_lag",
}


def _shape(defs: dg.Definitions) -> tuple:
    graph = defs.resolve_asset_graph()
    assets = {key.path[-1] for key in graph.get_all_asset_keys()}
    checks = {key.name for key in graph.asset_check_keys}
    jobs = {job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
    schedules = {s.name for s in defs.schedules or []}
    return assets, checks, jobs, schedules, set(defs.resources or {})


def test_bootstrap_definitions(tmp_path):
    defs = build_defs(load_settings(mode="bootstrap", home=tmp_path))
    assert _shape(defs) == (
        ASSETS,
        CHECKS,
        {"daily_bars_job", "asset_checks_job", "kafka_replay_job"},
        {"daily_bars_schedule"},
        {"source", "store", "policy", "cache", "batch", "stream"},
    )
    assert {s.name for s in defs.sensors or []} == {"kafka_replay_sensor"}
    assert type(defs.resources["store"]).__name__ == "DuckDBBarStore"


def test_institutional_tier_has_the_same_graph_and_other_backends(tmp_path):
    boot = build_defs(load_settings(mode="bootstrap", home=tmp_path))
    inst = build_defs(
        load_settings(
            mode="institutional",
            timescale_url="postgresql://u:p@127.0.0.1:1/x",
            redis_url="redis://127.0.0.1:1/0",
            kafka_bootstrap="127.0.0.1:1",
        )
    )
    assert _shape(inst) == _shape(boot)
    assert type(inst.resources["store"]).__name__ == "PostgresBarStore"
    assert type(boot.resources["store"]).__name__ == "DuckDBBarStore"
    assert type(inst.resources["cache"]).__name__ == "RedisHotCache"
    assert type(boot.resources["cache"]).__name__ == "DiskHotCache"
    assert type(inst.resources["stream"]).__name__ == "KafkaStream"
    assert type(boot.resources["stream"]).__name__ == "LocalLogStream"


def test_assets_say_what_they_are(tmp_path):
    graph = build_defs(load_settings(mode="bootstrap", home=tmp_path)).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.group_name in {"ingest", "storage", "cache", "batch", "audit", "stream"}, key
        assert node.owners == ["team:market-data"], key
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key


def test_definitions_validate_for_dagster_dev(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKBONE_MODE", "bootstrap")
    monkeypatch.setenv("BACKBONE_HOME", str(tmp_path))
    dg.Definitions.validate_loadable(build_defs(load_settings()))
