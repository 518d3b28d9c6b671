"""Redis specifics: connection options reach the pool, and failures name the setting without the secret."""

from __future__ import annotations

import pytest
import redis

from backbone_resources.cache.base import CacheUnavailable
from backbone_resources.cache.redis_cache import RedisHotCache
from backbone_resources.cache.settings import CachePolicy, RedisSettings
from backbone_tests.builders import business_day_bars
from backbone_tests.fixtures.own_redis import OwnRedis
from backbone_tests.fixtures.ports import free_port

pytestmark = pytest.mark.redis


def test_unreachable_redis_names_the_setting_and_hides_the_password():
    cache = RedisHotCache(
        url=f"redis://u:hunter2@127.0.0.1:{free_port()}/0", redis=RedisSettings(connect_timeout_s=0.5)
    )
    for call in (cache.ping, cache.stats, lambda: cache.last_bars("AAA", 1)):
        with pytest.raises(CacheUnavailable, match="BACKBONE_REDIS_URL") as info:
            call()
        assert "hunter2" not in str(info.value)
        assert "u:***@127.0.0.1" in str(info.value)
    assert "hunter2" not in str(cache.describe())


def test_password_protected_server(tmp_path):
    server = OwnRedis(tmp_path / "redis", "--requirepass", "s3cret-pw")
    server.start()
    try:
        wrong = RedisHotCache(url=server.url, redis=RedisSettings(password="nope"))
        with pytest.raises(CacheUnavailable, match="BACKBONE_REDIS_PASSWORD") as info:
            wrong.ping()
        assert "nope" not in str(info.value)
        right = RedisHotCache(
            url=server.url, redis=RedisSettings(password="s3cret-pw"), policy=CachePolicy(namespace="auth")
        )
        right.replace_symbols(business_day_bars(["AAA"], 3))
        assert right.last_bars("AAA", 3) is not None
        assert "s3cret-pw" not in str(right.describe())
        right.close()
    finally:
        server.stop()


def test_tls_and_pool_options_reach_the_connection_pool():
    cache = RedisHotCache(
        url="rediss://cache.example:6380/2",
        redis=RedisSettings(
            ssl_ca_certs="/etc/ssl/ca.pem",
            ssl_certfile="/etc/ssl/client.pem",
            ssl_keyfile="/etc/ssl/client.key",
            pool_size=7,
            socket_timeout_s=1.5,
            connect_timeout_s=0.7,
            username="svc",
        ),
    )
    pool = cache._client().connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.max_connections == 7
    kwargs = pool.connection_kwargs
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == (
        "/etc/ssl/ca.pem",
        "/etc/ssl/client.pem",
        "/etc/ssl/client.key",
    )
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"], kwargs["username"]) == (1.5, 0.7, "svc")
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example", 6380, 2)
    assert cache.describe()["tls"] is True
    cache.close()


def test_writes_are_pipelined_in_batches(redis_server_url, redis_namespace):
    """500 symbols x 20 bars take a handful of round trips, not one per bar."""
    cache = RedisHotCache(url=redis_server_url, policy=CachePolicy(namespace=redis_namespace, bars=20))
    calls: list[int] = []
    client = cache._client()
    original = client.pipeline

    def counting_pipeline(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    client.pipeline = counting_pipeline  # type: ignore[method-assign]
    try:
        symbols = [f"S{i:03d}" for i in range(500)]
        assert cache.replace_symbols(business_day_bars(symbols, 20)) == 500 * 20
        assert len(calls) <= 6  # 500 symbols / 100 per MULTI
        assert cache.stats().keys == 500
    finally:
        cache.clear()
        cache.close()
