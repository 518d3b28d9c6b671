"""probe() on real backends: up with a version when reachable, 'unavailable' (never an exception, never a
secret) when not; the Spark engine answers without starting a JVM."""

from __future__ import annotations

import secrets

import pytest

from backbone_resources.batch.duckdb_batch import DuckDBBatch
from backbone_resources.batch.settings import SparkSettings
from backbone_resources.batch.spark_batch import SparkBatch
from backbone_resources.cache.disk_cache import DiskHotCache
from backbone_resources.cache.redis_cache import RedisHotCache
from backbone_resources.cache.settings import CachePolicy
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_resources.stream.disabled import DisabledStream
from backbone_resources.stream.local_log import LocalLogStream
from backbone_tests.fixtures.ports import free_port


def test_in_process_backends_are_up_with_their_version(tmp_path):
    probes = [
        DuckDBBarStore(path=str(tmp_path / "b.duckdb")).probe(),
        DiskHotCache(directory=str(tmp_path / "hc")).probe(),
        LocalLogStream(path=str(tmp_path / "s.sqlite")).probe(),
        DuckDBBatch(export_dir=str(tmp_path / "exports")).probe(),
    ]
    assert [(p.backend, p.state) for p in probes] == [
        ("duckdb", "up"),
        ("diskcache", "up"),
        ("local_log", "up"),
        ("duckdb", "up"),
    ]
    assert all(p.version and p.elapsed_ms is not None for p in probes)


def test_a_disabled_stream_says_so():
    probe = DisabledStream().probe()
    assert (probe.state, probe.up) == ("disabled", False)


def test_a_store_that_cannot_open_is_unavailable_not_raised(tmp_path):
    not_duckdb = tmp_path / "x.duckdb"
    not_duckdb.write_text("not a database")
    probe = DuckDBBarStore(path=str(not_duckdb), lock_timeout_s=1).probe()
    assert probe.state == "unavailable"


@pytest.mark.postgres
def test_postgres_is_up_with_its_server_version(pg_url):
    from backbone_resources.store.postgres_store import PostgresBarStore

    store = PostgresBarStore(url=pg_url, schema_name=f"probe_{secrets.token_hex(4)}")
    try:
        probe = store.probe()
    finally:
        store.close()
    assert (probe.backend, probe.state) == ("postgresql", "up")
    assert probe.version
    assert probe.version[0].isdigit()


def test_unreachable_postgres_is_unavailable_and_hides_the_password():
    from backbone_resources.store.postgres_store import PostgresBarStore

    url = f"postgresql://backbone:pg-secret@127.0.0.1:{free_port()}/market"
    probe = PostgresBarStore(url=url, connect_timeout_s=2).probe()
    assert probe.state == "unavailable"
    assert "BACKBONE_TIMESCALE_URL" in probe.detail
    assert "pg-secret" not in probe.detail


@pytest.mark.redis
def test_redis_is_up_with_its_server_version(redis_server_url, redis_namespace):
    cache = RedisHotCache(url=redis_server_url, policy=CachePolicy(namespace=redis_namespace))
    try:
        probe = cache.probe()
    finally:
        cache.close()
    assert (probe.backend, probe.state) == ("redis", "up")
    assert probe.version
    assert probe.version[0].isdigit()


def test_unreachable_redis_is_unavailable_and_hides_the_password():
    cache = RedisHotCache(url=f"redis://u:redis-secret@127.0.0.1:{free_port()}/0")
    probe = cache.probe()
    assert probe.state == "unavailable"
    assert "BACKBONE_REDIS_URL" in probe.detail
    assert "redis-secret" not in probe.detail


def test_spark_standalone_master_that_refuses_is_unavailable_without_a_jvm(tmp_path):
    engine = SparkBatch(export_dir=str(tmp_path), spark=SparkSettings(master=f"spark://127.0.0.1:{free_port()}"))
    probe = engine.probe()
    assert (probe.backend, probe.state) == ("spark", "unavailable")


def test_local_spark_without_java_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `java` on it
    engine = SparkBatch(export_dir=str(tmp_path), spark=SparkSettings(java_home=str(tmp_path / "no-jdk")))
    probe = engine.probe()
    assert probe.state == "unavailable"
    assert "BACKBONE_JAVA_HOME" in probe.detail
