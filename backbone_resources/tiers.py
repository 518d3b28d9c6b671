"""The one place that maps settings to resource instances: a table from (tier, family) to a backend builder.

Both tiers bind the same six resource keys (``source``, ``store``, ``cache``, ``stream``, ``batch``, ``policy``),
so the asset graph is identical and only the backends differ — the way Dagster's reference projects swap local
and production resources. The tier is decided once per ``build_resources``; each builder hands its backend the
family's typed settings object (``settings.cache.redis``, ``settings.stream.kafka`` ...), so a new option never
passes through here. Imports of backends are local: the bootstrap tier never needs psycopg loaded, the
institutional one never DuckDB's store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

import dagster as dg

from backbone_resources.batch.base import BatchEngine
from backbone_resources.cache.base import HotCache
from backbone_resources.env import endpoint, with_env_vars
from backbone_resources.policy import PipelinePolicy
from backbone_resources.settings import ENV_PREFIX, BackboneSettings, Tier
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore
from backbone_resources.stream.base import StreamResource

log = logging.getLogger("backbone")
Family = Literal["source", "store", "cache", "stream", "batch"]
FAMILIES: tuple[Family, ...] = ("source", "store", "cache", "stream", "batch")
Builder = Callable[[BackboneSettings], dg.ConfigurableResource]


def _endpoint(settings: BackboneSettings, name: str, field: str = "url") -> dict[str, Any]:
    """The endpoint the tier needs (SettingsError naming it when unset) as the backend's ``field``: an EnvVar when
    it came from one, or the path of its secret file in ``<field>_file`` (the backend reads it when it connects)."""
    return endpoint(f"{ENV_PREFIX}{name.upper()}", settings.require(name), field)


def _optional_endpoint(settings: BackboneSettings, name: str, field: str) -> dict[str, Any]:
    """An endpoint the tier can do without: nothing when unset, else as ``_endpoint`` has it."""
    return _endpoint(settings, name, field) if getattr(settings, name) else {}


def _home(settings: BackboneSettings, name: str) -> str:
    return str((settings.home / name).resolve())


# -- one builder per backend ------------------------------------------------------------------------------------


def _source(settings: BackboneSettings) -> BarSource:
    """Chosen by BACKBONE_SOURCE on either tier."""
    if settings.source == "synthetic":
        from backbone_resources.source.synthetic import SyntheticSource

        return SyntheticSource(seed=settings.seed, symbols=settings.symbols)
    if settings.source == "yahoo":
        from backbone_resources.source.yahoo import YahooSource

        return YahooSource(symbols=settings.symbols)
    from backbone_resources.source.files import FileSource

    return FileSource(
        directory=settings.source.removeprefix("csv:"),
        symbols=settings.symbols,
        symbol_map=settings.source_symbol_map,
        first_day=settings.start_date.isoformat(),
        today=settings.today.isoformat() if settings.today else "",
    )


def _duckdb_store(settings: BackboneSettings) -> BarStore:
    from backbone_resources.store.duckdb_store import DuckDBBarStore

    return DuckDBBarStore(path=_home(settings, "backbone.duckdb"))


def _postgres_store(settings: BackboneSettings) -> BarStore:
    from backbone_resources.store.postgres_store import PostgresBarStore

    return PostgresBarStore(
        **_endpoint(settings, "timescale_url"),
        **_optional_endpoint(settings, "timescale_read_url", "read_url"),
        read_max_wait_s=settings.timescale_read_max_wait_s,
        require_timescale=settings.require_timescale,
        pool_size=settings.pg_pool_size,
        connect_timeout_s=settings.pg_connect_timeout_s,
    )


def _disk_cache(settings: BackboneSettings) -> HotCache:
    from backbone_resources.cache.disk_cache import DiskHotCache

    return DiskHotCache(directory=_home(settings, "hot_cache"), policy=settings.cache.policy)


def _redis_cache(settings: BackboneSettings) -> HotCache:
    from backbone_resources.cache.redis_cache import RedisHotCache

    return RedisHotCache(
        **_endpoint(settings, "redis_url"),
        redis=with_env_vars(settings.cache.redis, "BACKBONE_REDIS_"),
        policy=settings.cache.policy,
    )


def _local_log(settings: BackboneSettings) -> StreamResource:
    from backbone_resources.stream.local_log import LocalLogStream

    return LocalLogStream(path=_home(settings, "stream.sqlite"), policy=settings.stream.policy)


def _kafka_stream(settings: BackboneSettings) -> StreamResource:
    from backbone_resources.stream.kafka_stream import KafkaStream
    from backbone_resources.stream.settings import KAFKA_PREFIX

    return KafkaStream(
        bootstrap=settings.require("kafka_bootstrap"),
        policy=settings.stream.policy,
        kafka=with_env_vars(settings.stream.kafka, KAFKA_PREFIX),
    )


def _disabled_stream(settings: BackboneSettings) -> StreamResource:
    from backbone_resources.stream.disabled import DisabledStream

    return DisabledStream(policy=settings.stream.policy)


def _export_dir(settings: BackboneSettings) -> str:
    return str((settings.batch.export_dir or settings.home / "exports").resolve())


def _duckdb_batch(settings: BackboneSettings) -> BatchEngine:
    from backbone_resources.batch.duckdb_batch import DuckDBBatch

    return DuckDBBatch(export_dir=_export_dir(settings))


def _spark_batch(settings: BackboneSettings) -> BatchEngine:
    from backbone_resources.batch.spark_batch import SparkBatch

    return SparkBatch(export_dir=_export_dir(settings), spark=settings.batch.spark)


# -- the table --------------------------------------------------------------------------------------------------

BACKENDS: Mapping[tuple[Tier, Family], Builder] = {
    ("bootstrap", "source"): _source,
    ("bootstrap", "store"): _duckdb_store,  # <BACKBONE_HOME>/backbone.duckdb
    ("bootstrap", "cache"): _disk_cache,  # <BACKBONE_HOME>/hot_cache
    ("bootstrap", "stream"): _local_log,  # <BACKBONE_HOME>/stream.sqlite
    ("bootstrap", "batch"): _duckdb_batch,  # in process
    ("institutional", "source"): _source,
    ("institutional", "store"): _postgres_store,  # BACKBONE_TIMESCALE_URL (+ _READ_URL)
    ("institutional", "cache"): _redis_cache,  # BACKBONE_REDIS_URL
    ("institutional", "stream"): _kafka_stream,  # BACKBONE_KAFKA_BOOTSTRAP
    ("institutional", "batch"): _spark_batch,  # BACKBONE_SPARK_MASTER
}


def build(settings: BackboneSettings, family: Family, tier: Tier | None = None) -> Any:
    """The backend of ``family`` for ``tier`` (default: the settings' tier); BACKBONE_STREAMING_ENABLED=false
    gives the disabled stream on either tier. Raises SettingsError naming a missing variable."""
    if family == "stream" and not settings.stream.streaming_enabled:
        return _disabled_stream(settings)
    return BACKENDS[(tier or settings.tier().tier, family)](settings)


def build_source(settings: BackboneSettings) -> BarSource:
    return build(settings, "source")


def build_store(settings: BackboneSettings) -> BarStore:
    return build(settings, "store")


def build_cache(settings: BackboneSettings) -> HotCache:
    return build(settings, "cache")


def build_stream(settings: BackboneSettings) -> StreamResource:
    return build(settings, "stream")


def build_batch(settings: BackboneSettings) -> BatchEngine:
    return build(settings, "batch")


def layer_kinds(resources: Mapping[str, Any]) -> dict[str, set[str]]:
    """Kind tags per layer (store, cache, stream, batch): what the backend actually built declares."""
    return {family: set(type(resources[family]).kinds) for family in ("store", "cache", "stream", "batch")}


def build_resources(settings: BackboneSettings) -> dict[str, Any]:
    """Resources for the chosen tier; raises SettingsError naming the variable when one is missing."""
    choice = settings.tier()
    resources: dict[str, Any] = {family: build(settings, family, choice.tier) for family in FAMILIES}
    resources["policy"] = PipelinePolicy(
        tier=choice.tier,
        tier_reason=choice.reason,
        chunk_days=settings.chunk_days,
        chunk_bars=settings.chunk_bars,
        progress_every_s=settings.progress_every_s,
        freshness_max_lag_days=settings.freshness_max_lag_days,
        rejected_rate_warn=settings.rejected_rate_warn,
        bad_files=settings.source_bad_files,
        vanished_rows=settings.vanished_rows,
        version_retention_days=settings.version_retention_days,
    )
    log.info("backbone tier: %s (%s)", choice.tier, choice.reason)
    return resources
