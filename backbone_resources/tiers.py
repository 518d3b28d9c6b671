"""The one place that maps settings to resource instances.

Both tiers bind the same resource keys (``source``, ``store``, ``policy``), so the asset graph is identical
and only the backends differ — the way Dagster's reference projects swap local and production resources.
Imports of backends are local: the bootstrap tier never needs psycopg loaded, the institutional one never DuckDB.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import dagster as dg
from pydantic import SecretStr

from backbone_resources.batch.base import BatchEngine
from backbone_resources.cache.base import HotCache
from backbone_resources.policy import PipelinePolicy
from backbone_resources.settings import ENV_PREFIX, BackboneSettings
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore
from backbone_resources.stream.base import StreamResource

log = logging.getLogger("backbone")


def _from_env(settings: BackboneSettings, name: str) -> Any:
    """An EnvVar when the value came from the environment, so the UI shows the variable, not the secret."""
    env_name = f"{ENV_PREFIX}{name.upper()}"
    value = settings.require(name)
    return dg.EnvVar(env_name) if os.environ.get(env_name) == value else value


def build_source(settings: BackboneSettings) -> BarSource:
    if settings.source == "synthetic":
        from backbone_resources.source.synthetic import SyntheticSource

        return SyntheticSource(seed=settings.seed, symbols=settings.symbols)
    if settings.source == "yahoo":
        from backbone_resources.source.yahoo import YahooSource

        return YahooSource(symbols=settings.symbols)
    from backbone_resources.source.files import FileSource

    return FileSource(directory=settings.source.removeprefix("csv:"), symbols=settings.symbols)


def build_store(settings: BackboneSettings) -> BarStore:
    if settings.tier().tier == "institutional":
        from backbone_resources.store.postgres_store import PostgresBarStore

        return PostgresBarStore(
            url=_from_env(settings, "timescale_url"),
            require_timescale=settings.require_timescale,
            pool_size=settings.pg_pool_size,
        )
    from backbone_resources.store.duckdb_store import DuckDBBarStore

    return DuckDBBarStore(path=str((settings.home / "backbone.duckdb").resolve()))


def build_stream(settings: BackboneSettings) -> StreamResource:
    """Kafka on the institutional tier, a local log file on bootstrap; a disabled stream when the flag is off."""
    conf = settings.stream
    checks = {"consumer_groups": conf.kafka_consumer_groups, "lag_warn": conf.kafka_lag_warn}
    if not conf.streaming_enabled:
        from backbone_resources.stream.disabled import DisabledStream

        return DisabledStream(**checks)
    if settings.tier().tier == "institutional":
        from backbone_resources.stream.kafka_stream import KafkaStream

        password = conf.kafka_sasl_password
        return KafkaStream(
            bootstrap=settings.require("kafka_bootstrap"),
            topic=conf.kafka_topic,
            security_protocol=conf.kafka_security_protocol,
            sasl_mechanism=conf.kafka_sasl_mechanism,
            sasl_username=conf.kafka_sasl_username,
            sasl_password=_env_secret("BACKBONE_KAFKA_SASL_PASSWORD", password),
            ssl_ca_location=conf.kafka_ssl_ca_location,
            ssl_certificate_location=conf.kafka_ssl_certificate_location,
            ssl_key_location=conf.kafka_ssl_key_location,
            client_id=conf.kafka_client_id,
            client_config=conf.kafka_config,
            producer_config=conf.kafka_producer_config,
            consumer_config=conf.kafka_consumer_config,
            partitions=conf.kafka_partitions,
            replication_factor=conf.kafka_replication_factor,
            topic_config=conf.kafka_topic_config,
            auto_create_topic=conf.kafka_auto_create_topic,
            delivery_timeout_s=conf.kafka_delivery_timeout_s,
            **checks,
        )
    from backbone_resources.stream.local_log import LocalLogStream

    path = str((settings.home / "stream.sqlite").resolve())
    return LocalLogStream(path=path, topic=conf.kafka_topic, partitions=conf.kafka_partitions, **checks)


def _env_secret(env_name: str, value: SecretStr | None) -> Any:
    """The secret as an EnvVar when it came from the environment, so the UI never shows its value."""
    if value is None:
        return None
    secret = value.get_secret_value()
    return dg.EnvVar(env_name) if os.environ.get(env_name) == secret else secret


def build_cache(settings: BackboneSettings) -> HotCache:
    """Redis on the institutional tier (BACKBONE_REDIS_URL required), a diskcache under BACKBONE_HOME otherwise."""
    conf = settings.cache
    policy = {
        "namespace": conf.cache_namespace,
        "keep_bars": conf.cache_bars,
        "ttl_seconds": conf.cache_ttl_s,
        "max_symbols": conf.cache_max_symbols,
        "hit_ratio_warn": conf.cache_hit_ratio_warn,
        "min_reads": conf.cache_min_reads,
    }
    if settings.tier().tier == "institutional":
        from backbone_resources.cache.redis_cache import RedisHotCache

        return RedisHotCache(
            url=_from_env(settings, "redis_url"),
            username=conf.redis_username,
            password=_env_secret("BACKBONE_REDIS_PASSWORD", conf.redis_password),
            ssl_ca_certs=conf.redis_ssl_ca_certs,
            ssl_certfile=conf.redis_ssl_certfile,
            ssl_keyfile=conf.redis_ssl_keyfile,
            pool_size=conf.redis_pool_size,
            socket_timeout_s=conf.redis_socket_timeout_s,
            connect_timeout_s=conf.redis_connect_timeout_s,
            **policy,
        )
    from backbone_resources.cache.disk_cache import DiskHotCache

    return DiskHotCache(directory=str((settings.home / "hot_cache").resolve()), **policy)


def build_batch(settings: BackboneSettings) -> BatchEngine:
    """Spark (any BACKBONE_SPARK_MASTER) on the institutional tier, in-process DuckDB on bootstrap."""
    conf = settings.batch
    export_dir = str((conf.export_dir or settings.home / "exports").resolve())
    if settings.tier().tier == "institutional":
        from backbone_resources.batch.spark_batch import SparkBatch

        java_home = str(conf.java_home) if conf.java_home else None
        return SparkBatch(
            export_dir=export_dir, master=conf.spark_master, spark_conf=conf.spark_conf, java_home=java_home
        )
    from backbone_resources.batch.duckdb_batch import DuckDBBatch

    return DuckDBBatch(export_dir=export_dir)


# What the UI's kind tags name per layer, by tier: the technology that actually serves the layer here.
# Dagster shows at most three kinds per asset. Storage on the institutional tier is PostgreSQL, with TimescaleDB
# features when the extension exists (known only at run time, so both are named).
_KINDS = {
    "institutional": {
        "store": ("timescale", "postgres"),
        "cache": ("redis",),
        "stream": ("kafka",),
        "batch": ("spark", "parquet"),
    },
    "bootstrap": {
        "store": ("duckdb",),
        "cache": ("diskcache",),
        "stream": ("sqlite",),  # the local log is a SQLite file (stream.sqlite)
        "batch": ("duckdb", "parquet"),
    },
}


def layer_kinds(settings: BackboneSettings) -> dict[str, set[str]]:
    """Kind tags per resource family (store, cache, stream, batch) for the configured tier."""
    kinds = {family: set(names) for family, names in _KINDS[settings.tier().tier].items()}
    if not settings.stream.streaming_enabled:
        kinds["stream"] = {"python"}  # a disabled stream: the asset only reports that it published nothing
    return kinds


def build_resources(settings: BackboneSettings) -> dict[str, Any]:
    """Resources for the chosen tier; raises SettingsError naming the variable when one is missing."""
    choice = settings.tier()
    resources = {
        "source": build_source(settings),
        "store": build_store(settings),
        "cache": build_cache(settings),
        "stream": build_stream(settings),
        "batch": build_batch(settings),
        "policy": PipelinePolicy(
            tier=choice.tier,
            tier_reason=choice.reason,
            chunk_days=settings.chunk_days,
            chunk_bars=settings.chunk_bars,
            progress_every_s=settings.progress_every_s,
            freshness_max_lag_days=settings.freshness_max_lag_days,
            rejected_rate_warn=settings.rejected_rate_warn,
        ),
    }
    log.info("backbone tier: %s (%s)", choice.tier, choice.reason)
    return resources
