"""The PostgreSQL store with a read replica (BACKBONE_TIMESCALE_READ_URL), against a real primary and a hot standby
streaming from it (``fixtures/postgres_replica``): reads are served by the replica, writes land on the primary, a
read never sees less than the primary had committed when it began (it waits for the replica, or goes to the
primary), and the replica's lag is measured."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from backbone_domain.bars import empty_rejected
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import MON, bars
from backbone_tests.fixtures.postgres_replica import APP_PASSWORD, ReplicatedPostgres

TUE = MON + dt.timedelta(days=1)
WED = MON + dt.timedelta(days=2)
READ = "TO STDOUT"  # the store's bulk reads are COPY (SELECT ...) TO STDOUT; its writes COPY ... FROM STDIN


@pytest.fixture
def schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_store(replicated_postgres: ReplicatedPostgres, schema: str) -> Iterator[Callable[..., PostgresBarStore]]:
    """Stores over one schema, primary and replica of the session's cluster, closed at the end."""
    made: list[PostgresBarStore] = []

    def make(**options: Any) -> PostgresBarStore:
        pg = replicated_postgres
        made.append(PostgresBarStore(url=pg.primary_url, read_url=pg.replica_url, schema_name=schema, **options))
        return made[-1]

    yield make
    for store in made:
        store.close()


def last_queries(pg: ReplicatedPostgres, port: int, schema: str) -> list[str]:
    """The last statement of every other session on ``port`` that named the schema."""
    with pg.admin(port) as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND position(%s in query) > 0",
            (schema,),
        ).fetchall()
    return [query for (query,) in rows]


def test_reads_are_served_by_the_replica_and_writes_land_on_the_primary(
    replicated_postgres: ReplicatedPostgres, make_store: Callable[..., PostgresBarStore], schema: str
) -> None:
    pg, store = replicated_postgres, make_store()
    store.write_validated(MON, MON, bars(["AAA", "BBB"], [MON]), empty_rejected())

    assert list(store.read_bars(MON, MON)["symbol"]) == ["AAA", "BBB"]

    on_replica, on_primary = last_queries(pg, pg.replica_port, schema), last_queries(pg, pg.primary_port, schema)
    assert any(READ in q and "daily_bars" in q for q in on_replica), on_replica
    assert not any(READ in q for q in on_primary), on_primary  # the primary only gave its WAL position
    with pg.admin(pg.primary_port) as conn:  # the write is the primary's own, not the replica's
        assert conn.execute(f"SELECT count(*) FROM {schema}.daily_bars").fetchone() == (2,)
    assert store.describe()["read_replica"] == pg.replica_url.replace(APP_PASSWORD, "***")


def test_a_read_right_after_a_write_waits_for_the_replica_and_sees_the_write(
    replicated_postgres: ReplicatedPostgres, make_store: Callable[..., PostgresBarStore], schema: str, caplog
) -> None:
    """The check after its asset: the replica has not applied the write yet, so the read waits until it has."""
    pg, store = replicated_postgres, make_store(read_max_wait_s=10)
    store.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
    with pg.replay_paused():
        store.write_validated(TUE, TUE, bars(["AAA"], [TUE]), empty_rejected())
        resumed = threading.Timer(0.3, pg.resume_replay)
        resumed.start()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            counts = store.range_counts(MON, TUE)
        waited = time.monotonic() - started
        resumed.join()

    assert counts.bars == 2
    assert 0.25 < waited < 5
    assert any("count" in q.lower() for q in last_queries(pg, pg.replica_port, schema))  # the replica answered
    assert not [r for r in caplog.records if "read replica" in r.getMessage()]  # no fallback


def test_a_replica_that_does_not_catch_up_in_time_leaves_the_read_to_the_primary(
    replicated_postgres: ReplicatedPostgres, make_store: Callable[..., PostgresBarStore], schema: str, caplog
) -> None:
    pg, store = replicated_postgres, make_store(read_max_wait_s=0.2)
    store.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
    with pg.replay_paused():
        store.write_validated(WED, WED, bars(["AAA"], [WED]), empty_rejected())
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            newest = store.latest_bar_dates()
        waited = time.monotonic() - started
        with caplog.at_level(logging.WARNING):
            again = store.read_bars(MON, WED)  # the replica sits out: straight to the primary, no wait, no log

    assert newest == {"AAA": WED}  # the primary's answer, not the paused replica's
    assert list(again["ts"].dt.date) == [MON, WED]
    assert 0.15 < waited < 5  # the wait, then the primary: not a stall
    warnings = [r.getMessage() for r in caplog.records if "read replica" in r.getMessage()]
    assert len(warnings) == 1
    assert "behind" in warnings[0]
    assert APP_PASSWORD not in warnings[0]


READS: dict[str, Callable[[PostgresBarStore], Any]] = {
    "read_raw": lambda s: s.read_raw(MON, MON),
    "read_rejected": lambda s: s.read_rejected(MON, MON),
    "read_quarantined_files": lambda s: s.read_quarantined_files(),
    "read_bars_table": lambda s: s.read_bars_table(MON, MON),
    "read_bars as_of": lambda s: s.read_bars(MON, MON, as_of=dt.datetime.now(dt.UTC)),
    "bar_history": lambda s: s.bar_history("AAA", MON),
    "version_counts": lambda s: s.version_counts(),
    "version_keys": lambda s: s.version_keys(MON, MON),
    "read_weekly": lambda s: s.read_weekly(MON, MON),
    "read_intraday": lambda s: s.read_intraday(MON, MON),
    "latest_bar_dates": lambda s: s.latest_bar_dates(),
    "quality_counts": lambda s: s.quality_counts(),
    "range_counts": lambda s: s.range_counts(MON, MON),
    "holds_bars": lambda s: s.holds_bars(MON, MON),
    "keys_changed_since": lambda s: s.keys_changed_since(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
}


def test_every_read_goes_through_the_replica_policy(
    replicated_postgres: ReplicatedPostgres, make_store: Callable[..., PostgresBarStore], caplog
) -> None:
    """With the replica behind and no wait allowed, each read method says it fell back to the primary: none
    bypasses the one place that picks a read's server. Writes never ask (no warning from them)."""
    pg = replicated_postgres
    make_store().write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
    with pg.replay_paused():
        pg.wal_written_on_primary()
        for name, read in READS.items():
            store = make_store(read_max_wait_s=0)  # a new store: the previous one's replica sits out
            store.ping()
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                read(store)
            assert any("read replica" in r.getMessage() for r in caplog.records), name
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            make_store(read_max_wait_s=0).write_validated(TUE, TUE, bars(["AAA"], [TUE]), empty_rejected())
        assert not caplog.records


def test_the_replica_lag_in_bytes_and_seconds(
    replicated_postgres: ReplicatedPostgres, make_store: Callable[..., PostgresBarStore]
) -> None:
    pg, store = replicated_postgres, make_store()
    store.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
    caught_up = _eventually(store.replica_lag, lambda lag: lag.bytes_behind == 0)
    assert caught_up.state == "up"
    assert caught_up.seconds == 0.0

    pg.caught_up()
    with pg.replay_paused():
        pg.wal_written_on_primary()
        behind = store.replica_lag()
    assert behind is not None
    assert behind.state == "up"
    assert behind.bytes_behind is not None
    assert behind.bytes_behind > 0
    assert behind.seconds is not None
    assert behind.seconds >= 0
    assert _eventually(store.replica_lag, lambda lag: lag.bytes_behind == 0).seconds == 0.0


def test_without_a_read_url_there_is_no_replica_and_no_lag(replicated_postgres: ReplicatedPostgres) -> None:
    store = PostgresBarStore(url=replicated_postgres.primary_url, schema_name=f"t_{uuid.uuid4().hex[:12]}")
    try:
        assert store.replica_lag() is None
        assert store.describe()["read_replica"] is None
    finally:
        store.close()


def test_an_unreachable_replica_is_reported_and_reads_go_to_the_primary(
    replicated_postgres: ReplicatedPostgres, schema: str, caplog
) -> None:
    pg = replicated_postgres
    gone = f"postgresql://backbone_app:{APP_PASSWORD}@127.0.0.1:1/marketdata"  # nothing listens on port 1
    store = PostgresBarStore(url=pg.primary_url, read_url=gone, schema_name=schema, read_max_wait_s=0.2)
    try:
        store.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
        with caplog.at_level(logging.WARNING):
            assert store.range_counts(MON, MON).bars == 1
        lag = store.replica_lag()
    finally:
        store.close()
    assert lag is not None
    assert lag.state == "unavailable"
    assert lag.bytes_behind is None
    assert "unreachable" in lag.detail
    assert APP_PASSWORD not in lag.detail + lag.endpoint
    assert lag.breaches() == [f"read replica unavailable: {lag.detail}"]
    warnings = [r.getMessage() for r in caplog.records if "read replica" in r.getMessage()]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0]
    assert APP_PASSWORD not in warnings[0]


def _eventually(measure: Callable[[], Any], done: Callable[[Any], bool], within_s: float = 10) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = measure()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
