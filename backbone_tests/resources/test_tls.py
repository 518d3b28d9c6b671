"""TLS settings reach the clients as given (no TLS server needed): Redis's ``rediss://`` with its CA and client
files builds an SSL connection pool holding them; PostgreSQL's ``sslmode`` / ``sslrootcert`` in a URL or a DSN
reach libpq unchanged, in the first connection and in the pool."""

from __future__ import annotations

import psycopg
import pytest
import redis
from psycopg.conninfo import conninfo_to_dict

from backbone_resources.cache.redis_cache import RedisHotCache
from backbone_resources.cache.settings import RedisSettings
from backbone_resources.store import postgres_store
from backbone_resources.store.base import StoreUnavailable
from backbone_resources.store.postgres_store import PostgresBarStore


def test_rediss_builds_an_ssl_pool_with_the_ca_and_client_files():
    files = {"ssl_ca_certs": "/etc/ca.pem", "ssl_certfile": "/etc/client.pem", "ssl_keyfile": "/etc/client.key"}
    cache = RedisHotCache(url="rediss://cache.internal:6380/0", redis=RedisSettings(**files))
    pool = cache._client().connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert {k: pool.connection_kwargs[k] for k in files} == files
    assert cache.describe()["tls"] is True


def test_plain_redis_ignores_the_tls_files():
    cache = RedisHotCache(url="redis://cache.internal:6379/0", redis=RedisSettings(ssl_ca_certs="/etc/ca.pem"))
    pool = cache._client().connection_pool
    assert pool.connection_class is redis.Connection
    assert "ssl_ca_certs" not in pool.connection_kwargs


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db.internal:5432/market?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        "host=db.internal port=5432 user=u password=pw dbname=market sslmode=verify-full sslrootcert=/etc/ca.pem",
    ],
)
def test_postgres_tls_parameters_reach_the_connection_and_the_pool(url, monkeypatch):
    given: list[str] = []

    def refuse(conninfo: str, **kwargs: object) -> None:
        given.append(conninfo)
        raise psycopg.OperationalError("refused by the test")

    monkeypatch.setattr(postgres_store.psycopg, "connect", refuse)
    with pytest.raises(StoreUnavailable, match="refused by the test"):
        PostgresBarStore(url=url)._connect()
    assert conninfo_to_dict(given[0]) == conninfo_to_dict(url)
    assert {k: conninfo_to_dict(given[0])[k] for k in ("sslmode", "sslrootcert")} == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
    }
    # the pool is built from the same string (postgres_store._connect: ConnectionPool(self.url, ...))
    monkeypatch.setattr(postgres_store.psycopg, "connect", lambda *a, **k: _Fake())
    pools: list[str] = []
    monkeypatch.setattr(postgres_store, "ConnectionPool", _recording_pool(pools))
    monkeypatch.setattr(PostgresBarStore, "_prepare", lambda self, conn: None)
    PostgresBarStore(url=url)._connect()
    assert pools == [url]


class _Fake:
    def __enter__(self) -> _Fake:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _recording_pool(seen: list[str]) -> type:
    class Pool:
        check_connection = staticmethod(lambda conn: None)

        def __init__(self, conninfo: str, **kwargs: object) -> None:
            seen.append(conninfo)

        def open(self, **kwargs: object) -> None:
            return None

    return Pool
