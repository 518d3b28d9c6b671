"""The code location's shape: same asset graph in both tiers, only the resources differ."""

import dagster as dg

from backbone_assets.definitions import build_defs
from backbone_resources.settings import load_settings
from backbone_tests.assets.conftest import NO_STREAMING

ASSETS = {"daily_bars_raw", "daily_bars", "weekly_bars", "daily_bars_hot_cache"}
ASSETS |= {"daily_bars_parquet", "daily_returns", "retention_audit"}
ASSETS |= {"daily_bars_kafka"}
CHECKS = {
    "daily_bars_raw_files_readable",
    "daily_bars_matches_source",
    "daily_bars_fresh",
    "daily_bars_match_intraday",
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
        {"daily_ingest_schedule", "weekly_backfill_schedule"},
        {"source", "store", "policy", "cache", "batch", "stream"},
    )
    assert {s.name for s in defs.sensors or []} == {
        "kafka_replay_sensor",
        "run_failure_telemetry_sensor",
        "ingest_health_sensor",
    }
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


LAYERS = {"ingest", "storage", "cache", "stream", "batch"}
# The pool (op concurrency limit) of each asset: the resource family it loads or writes.
POOLS = {
    "daily_bars_raw": "store",
    "daily_bars": "store",
    "weekly_bars": "store",
    "daily_bars_hot_cache": "cache",
    "daily_bars_kafka": "stream",
    "daily_bars_parquet": "batch",
    "daily_returns": "batch",
    "retention_audit": "batch",
}
CHECK_POOLS = {
    "daily_bars_raw": "store",
    "daily_bars": "store",
    "daily_bars_hot_cache": "cache",
    "daily_bars_kafka": "stream",
}


def test_assets_say_what_they_are(tmp_path):
    defs = build_defs(load_settings(mode="bootstrap", home=tmp_path))
    graph = defs.resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        groups[key.path[-1]] = node.group_name
        assert node.owners == ["team:market-data"], key
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
        assert node.pools == {POOLS[key.path[-1]]}, key
    # One group per layer; the audit spans every layer and is unpartitioned, so it keeps its own group
    # (a partitioned job selects the layers' groups, which an unpartitioned asset would break).
    assert set(groups.values()) == LAYERS | {"audit"}
    assert [name for name, group in groups.items() if group == "audit"] == ["retention_audit"]
    for check_key in graph.asset_check_keys:
        check = graph.get_check_spec(check_key)
        assert check.description, check_key
        assert _check_pool(defs, check_key) == CHECK_POOLS.get(check_key.asset_key.path[-1], "batch"), check_key
    assert [node.definition.pool for node in defs.resolve_job_def("kafka_replay_job").nodes] == ["stream"]


def _check_pool(defs: dg.Definitions, key: dg.AssetCheckKey) -> str | None:
    for checks_def in defs.asset_checks or []:
        if key in checks_def.check_keys:
            return checks_def.op.pool
    raise AssertionError(f"no checks definition holds {key}")


def _kinds(defs: dg.Definitions) -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    return {key.path[-1]: set(graph.get(key).kinds) for key in graph.get_all_asset_keys()}


def test_kinds_name_the_configured_tiers_technology(tmp_path):
    boot = _kinds(build_defs(load_settings(mode="bootstrap", home=tmp_path)))
    assert boot["daily_bars"] == boot["weekly_bars"] == {"duckdb"}
    assert boot["daily_bars_raw"] == {"pandas", "duckdb"}
    assert boot["daily_bars_hot_cache"] == {"diskcache"}
    assert boot["daily_bars_kafka"] == {"sqlite"}
    assert boot["daily_bars_parquet"] == boot["daily_returns"] == {"duckdb", "parquet"}
    inst = _kinds(
        build_defs(
            load_settings(
                mode="institutional",
                timescale_url="postgresql://u:p@127.0.0.1:1/x",
                redis_url="redis://127.0.0.1:1/0",
                kafka_bootstrap="127.0.0.1:1",
            )
        )
    )
    assert inst["daily_bars"] == {"timescale", "postgres"}
    assert inst["daily_bars_hot_cache"] == {"redis"}
    assert inst["daily_bars_kafka"] == {"kafka"}
    assert inst["daily_bars_parquet"] == inst["retention_audit"] == {"spark", "parquet"}
    assert all(1 <= len(kinds) <= 3 for kinds in [*boot.values(), *inst.values()])  # Dagster shows at most three
    off = _kinds(build_defs(load_settings(mode="bootstrap", home=tmp_path, stream=NO_STREAMING)))
    assert off["daily_bars_kafka"] == {"python"}


def test_definitions_validate_for_dagster_dev(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKBONE_MODE", "bootstrap")
    monkeypatch.setenv("BACKBONE_HOME", str(tmp_path))
    dg.Definitions.validate_loadable(build_defs(load_settings()))


def test_partitions_follow_each_layers_data_with_explicit_mappings(tmp_path):
    """The store is daily; every other layer is unpartitioned and reads every stored day (docs/architecture.md)."""
    defs = build_defs(load_settings(mode="bootstrap", home=tmp_path))
    graph = defs.resolve_asset_graph()
    daily = {k.path[-1] for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None}
    assert daily == {"daily_bars_raw", "daily_bars"}
    store = graph.get(dg.AssetKey("daily_bars")).partitions_def
    assert isinstance(store, dg.DailyPartitionsDefinition)
    assert graph.get(dg.AssetKey("daily_bars_raw")).partitions_def == store
    on_every_day = {"weekly_bars", "daily_bars_hot_cache", "daily_bars_kafka", "daily_bars_parquet"}
    for name in on_every_day:
        assets_def = defs.resolve_assets_def(name)
        mapping = assets_def.get_partition_mapping(dg.AssetKey("daily_bars"))
        assert isinstance(mapping, dg.AllPartitionMapping), name
    identity = defs.resolve_assets_def("daily_bars").get_partition_mapping(dg.AssetKey("daily_bars_raw"))
    assert isinstance(identity, dg.IdentityPartitionMapping)
    # A range in one run still spans every layer: the job is partitioned by the store's days.
    job = defs.resolve_job_def("daily_bars_job")
    assert job.partitions_def == store
