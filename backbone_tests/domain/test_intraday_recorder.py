"""The intraday-store handler over real backends (a DuckDB file and a diskcache directory; PostgreSQL and Redis):
every stored minute counted once in the provisional bar, whatever is redelivered, corrected, lost or down."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backbone_domain import provisional
from backbone_domain.intraday_messages import IntradayBar
from backbone_domain.intraday_recorder import IntradayRecorder
from backbone_domain.intraday_replay import session_bars
from backbone_resources.cache.base import HotCache
from backbone_resources.cache.disk_cache import DiskHotCache
from backbone_resources.cache.redis_cache import RedisHotCache
from backbone_resources.cache.settings import CachePolicy
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.base import BarStore
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_resources.store.postgres_store import PostgresBarStore

SESSION = dt.date(2024, 1, 3)


def _session(day: dt.date = SESSION) -> list[IntradayBar]:
    return session_bars(SyntheticSource(symbols=["AAPL"]).fetch_intraday(day, interval_minutes=30))


def _expected(store: BarStore, day: dt.date = SESSION) -> provisional.ProvisionalBar:
    (bar,) = provisional.from_minutes(store.read_intraday(day, day, ["AAPL"]))
    return bar


@pytest.fixture(params=["bootstrap", pytest.param("institutional", marks=[pytest.mark.postgres, pytest.mark.redis])])
def tier(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(tier: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BarStore]:
    if tier == "bootstrap":
        yield DuckDBBarStore(path=str(tmp_path / "store.duckdb"))
        return
    pg = PostgresBarStore(url=request.getfixturevalue("pg_url"), schema_name=f"t_{uuid.uuid4().hex[:12]}")
    yield pg
    pg.close()


@pytest.fixture
def cache(tier: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[HotCache]:
    if tier == "bootstrap":
        made: HotCache = DiskHotCache(directory=str(tmp_path / "hot_cache"))
    else:
        policy = CachePolicy(namespace=request.getfixturevalue("redis_namespace"))
        made = RedisHotCache(url=request.getfixturevalue("redis_server_url"), policy=policy)
    yield made
    made.clear()
    made.close()  # type: ignore[attr-defined]


def test_redelivered_minutes_are_counted_once(store, cache) -> None:
    record = IntradayRecorder(store, cache)
    bars = _session()
    for bar in bars[:5] + bars[:7] + bars[5:]:  # a restarted bridge redelivers the first ones
        record(bar)

    assert len(store.read_intraday(SESSION, SESSION)) == len(bars)
    assert cache.provisional("AAPL") == _expected(store)
    assert cache.provisional("AAPL").bars == len(bars)


def test_a_corrected_minute_and_a_lost_cache_are_recomputed_from_the_store(store, cache) -> None:
    record = IntradayRecorder(store, cache)
    bars = _session()
    for bar in bars[:6]:
        record(bar)
    high = max(b.high for b in bars[:6]) + 1
    record(dataclasses.replace(bars[2], high=high, ingested_at=bars[2].ingested_at + dt.timedelta(hours=1)))
    assert cache.provisional("AAPL").high == high

    cache.clear()  # an evicted or restarted cache
    for bar in bars[6:]:
        record(bar)

    assert cache.provisional("AAPL") == _expected(store)
    assert cache.provisional("AAPL").high == high


def test_a_replay_of_an_older_session_leaves_todays_provisional_bar(store, cache) -> None:
    record = IntradayRecorder(store, cache)
    for bar in _session()[:3]:
        record(bar)
    today = cache.provisional("AAPL")

    for bar in _session(dt.date(2024, 1, 2)):
        record(bar)

    assert cache.provisional("AAPL") == today
    assert len(store.read_intraday(dt.date(2024, 1, 2), dt.date(2024, 1, 2))) == 13  # stored all the same


def test_a_cache_that_is_down_never_refuses_a_stored_minute(store, tmp_path, caplog) -> None:
    (tmp_path / "not_a_directory").write_text("")
    down = DiskHotCache(directory=str(tmp_path / "not_a_directory"))
    first = _session()[0]

    with caplog.at_level(logging.WARNING):
        IntradayRecorder(store, down)(first)  # no exception: the bus accepts the minute

    assert len(store.read_intraday(SESSION, SESSION)) == 1
    assert "provisional bar of AAPL 2024-01-03 not cached: disk cache at" in caplog.text
