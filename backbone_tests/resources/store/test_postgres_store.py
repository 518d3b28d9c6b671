"""PostgresBarStore beyond the shared contract: what plain PostgreSQL and TimescaleDB each get, migrations under
concurrency and after the extension arrives, compressed chunks, connection errors, and SQL hygiene."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from dagster import asset, materialize
from psycopg import sql

from backbone_domain.bars import empty_rejected, utc_midnight
from backbone_domain.intraday_bars import intraday_frame
from backbone_domain.intraday_replay import session_bars
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store import postgres_sql
from backbone_resources.store.base import StoreUnavailable
from backbone_resources.store.postgres_migrations import MIGRATIONS, NOT_PRELOADED, enable_timescale, migrate
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import T1, bars, sort_bars

OLD = [dt.date(2020, 3, 2) + dt.timedelta(days=i) for i in range(5)]  # a week, long past compress_after
RESOURCES = Path(__file__).resolve().parents[3] / "backbone_resources"


def _schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresBarStore]:
    store = PostgresBarStore(url=pg_url, schema_name=_schema())
    yield store
    store.close()


@pytest.fixture
def ts_store(timescale_url: str, timescale_store_options: dict[str, Any]) -> Iterator[PostgresBarStore]:
    store = PostgresBarStore(url=timescale_url, schema_name=_schema(), **timescale_store_options)
    yield store
    store.close()


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, prepare_threshold=None)


def _migrations(url: str, schema: str) -> list[tuple[int, str, dt.datetime]]:
    with _connect(url) as conn:
        query = sql.SQL("SELECT version, name, applied_at FROM {} ORDER BY version")
        return conn.execute(query.format(sql.Identifier(schema, "schema_migrations"))).fetchall()


# -- plain PostgreSQL ------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_plain_postgres_says_what_is_off(pg_store: PostgresBarStore, pg_url: str) -> None:
    described = pg_store.describe()

    assert described["backend"] == "postgresql"
    assert described["timescaledb"] is False
    assert described["timescaledb_version"] is None
    assert (described["hypertable"], described["compression"], described["continuous_aggregate"]) == (False,) * 3
    assert described["weekly_bars"] == "view"
    assert described["features_off"] == ["hypertable", "compression", "continuous_aggregate"]
    with _connect(pg_url) as conn:
        kind = conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (f"{pg_store.schema_name}.weekly_bars",)
        )
        assert kind.fetchone() == ("v",)


@pytest.mark.postgres
def test_migrations_run_once_and_rerun_changes_nothing(pg_store: PostgresBarStore, pg_url: str) -> None:
    pg_store.ping()
    applied = _migrations(pg_url, pg_store.schema_name)
    assert [(v, n) for v, n, _ in applied] == [
        (1, "base_tables"),
        (3, "weekly_bars_view"),
        (5, "raw_batches"),
        (6, "quarantined_files"),
        (7, "bar_versions"),
        (8, "bar_loads"),
        (9, "intraday_bars"),
    ]

    with _connect(pg_url) as conn:
        assert migrate(conn, pg_store.schema_name, timescale=False) == []
    again = PostgresBarStore(url=pg_url, schema_name=pg_store.schema_name)
    again.ping()
    again.close()

    assert _migrations(pg_url, pg_store.schema_name) == applied


@pytest.mark.postgres
def test_bar_loads_arrive_over_stored_bars_and_versions_whose_run_is_unknown(
    pg_store: PostgresBarStore, pg_url: str
) -> None:
    """A schema from before migration 8: its bars and versions stay, and their run reads as unknown (None)."""
    pg_store.write_validated(OLD[0], OLD[0], bars(["AAA"], OLD[:1]), empty_rejected())
    newer = bars(["AAA"], OLD[:1], close=1.0, low=0.5, open=0.9, ingested_at=T1 + pd.Timedelta(days=1))
    pg_store.write_validated(OLD[0], OLD[0], newer, empty_rejected())
    pg_store.close()
    with _connect(pg_url) as conn:  # back to the schema of migration 7
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(pg_store.schema_name, "bar_loads")))
        table = sql.Identifier(pg_store.schema_name, "schema_migrations")
        conn.execute(sql.SQL("DELETE FROM {} WHERE version = 8").format(table))

    history = pg_store.bar_history("AAA", OLD[0])  # reconnects, migrates

    assert history["reason"].tolist() == ["corrected", None]
    assert history["run_id"].tolist() == [None, None]
    assert history["close"].tolist()[1] == 1.0
    assert [v for v, _, _ in _migrations(pg_url, pg_store.schema_name)] == [1, 3, 5, 6, 7, 8, 9]  # 8 again


@pytest.mark.postgres
def test_concurrent_first_starts_apply_each_migration_once(pg_url: str) -> None:
    schema = _schema()
    errors: list[BaseException] = []

    def start() -> None:
        store = PostgresBarStore(url=pg_url, schema_name=schema, pool_size=1)
        try:
            store.ping()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [v for v, _, _ in _migrations(pg_url, schema)] == [1, 3, 5, 6, 7, 8, 9]


@pytest.mark.postgres
def test_require_timescale_on_plain_postgres_names_the_setting(pg_url: str) -> None:
    store = PostgresBarStore(url=pg_url, schema_name=_schema(), require_timescale=True)

    with pytest.raises(StoreUnavailable, match="BACKBONE_REQUIRE_TIMESCALE") as caught:
        store.ping()

    assert "timescaledb" in str(caught.value)


@pytest.mark.postgres
def test_a_concurrent_writer_between_probe_and_copy_falls_back_to_the_upsert(
    pg_store: PostgresBarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_store.write_validated(OLD[0], OLD[-1], bars(["AAPL"], OLD), empty_rejected())
    # The probe sees no stored bars, as if another writer committed right after it: COPY meets the key.
    monkeypatch.setattr(
        postgres_sql.Statements, "any_stored", lambda self: sql.SQL("SELECT %s::text[] IS NULL AND %s < %s")
    )
    newer = bars(["AAPL"], OLD, T1 + pd.Timedelta(hours=1), 300)

    assert pg_store.write_validated(OLD[0], OLD[-1], newer, empty_rejected()).bars == 5

    pd.testing.assert_frame_equal(pg_store.read_bars(OLD[0], OLD[-1]), sort_bars(newer))


@asset
def stored_bars(context, store: PostgresBarStore) -> None:  # context bare: Dagster checks the real class
    """An asset writing through the store, as the pipeline's assets do."""
    store.write_validated(OLD[0], OLD[-1], bars(["AAPL"], OLD), empty_rejected())
    context.add_output_metadata({"store": str(store.describe()), "bars": store.range_counts(OLD[0], OLD[-1]).bars})


@pytest.mark.postgres
def test_as_a_dagster_resource(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:secret@")  # trust auth ignores the password

    result = materialize([stored_bars], resources={"store": PostgresBarStore(url=url, schema_name=_schema())})

    assert result.success
    metadata = result.asset_materializations_for_node("stored_bars")[0].metadata
    assert metadata["bars"].value == 5
    assert "secret" not in metadata["store"].value
    assert "postgres:***@" in metadata["store"].value


# -- connection errors and hygiene (no server needed) ---------------------------------------------------


def test_unreachable_server_names_the_setting_without_the_password() -> None:
    store = PostgresBarStore(url="postgresql://backbone:secret@127.0.0.1:1/market", connect_timeout_s=2)

    with pytest.raises(StoreUnavailable) as caught:
        store.ping()

    message = str(caught.value)
    assert "BACKBONE_TIMESCALE_URL" in message
    assert "backbone:***@127.0.0.1:1" in message
    assert "secret" not in message
    assert "\n" not in message  # the short cause, not a traceback wall


def test_no_sql_is_built_with_f_strings() -> None:
    offenders = [
        f"{path.relative_to(RESOURCES.parent)}:{number}"
        for path in sorted(RESOURCES.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"""(execute|copy|sql\.SQL)\(\s*f["']""", line)
    ]
    assert offenders == []


# -- TimescaleDB -----------------------------------------------------------------------------------------


@pytest.mark.timescale
def test_timescale_features(ts_store: PostgresBarStore, timescale_url: str) -> None:
    described = ts_store.describe()

    assert described["timescaledb"] is True
    assert described["timescaledb_version"]
    assert (described["hypertable"], described["compression"], described["continuous_aggregate"]) == (True,) * 3
    assert described["weekly_bars"] == "continuous_aggregate"
    assert described["features_off"] == []
    schema = ts_store.schema_name
    with _connect(timescale_url) as conn:
        settings = conn.execute(
            "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc"
            " FROM timescaledb_information.compression_settings WHERE hypertable_schema = %s"
            " AND hypertable_name = 'daily_bars' ORDER BY attname",
            (schema,),
        ).fetchall()
        assert settings == [("symbol", 1, None, None), ("ts", None, 1, False)]
        jobs = conn.execute(
            "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs"
            " WHERE hypertable_schema = %s ORDER BY proc_name, hypertable_name",
            (schema,),
        ).fetchall()
        assert [(proc, table) for proc, table, _ in jobs] == [
            ("policy_compression", "daily_bars"),
            ("policy_compression", "intraday_bars"),
            ("policy_refresh_continuous_aggregate", "weekly_bars"),
        ]
        assert jobs[0][2]["compress_after"] == "90 days"
        assert jobs[1][2]["compress_after"] == "7 days"
    assert [v for v, _, _ in _migrations(timescale_url, schema)] == [1, 2, 4, 5, 6, 7, 8, 9, 10]


@pytest.mark.timescale
def test_upsert_into_a_compressed_chunk(ts_store: PostgresBarStore, timescale_url: str) -> None:
    ts_store.write_validated(OLD[0], OLD[-1], bars(["AAPL", "MSFT"], OLD), empty_rejected())
    daily = f"{ts_store.schema_name}.daily_bars"
    with _connect(timescale_url) as conn:
        compressed = conn.execute("SELECT compress_chunk(c) FROM show_chunks(%s::regclass) c", (daily,)).fetchall()
        assert compressed
        state = conn.execute(
            "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks WHERE hypertable_schema = %s",
            (ts_store.schema_name,),
        )
        assert state.fetchone() == (True,)

    newer = bars(["AAPL", "MSFT"], OLD, T1 + pd.Timedelta(hours=1), 500)
    assert ts_store.write_validated(OLD[0], OLD[-1], newer, empty_rejected()).bars == 10
    fresh = bars(["IBM"], OLD, T1, 50)  # new keys inside the compressed chunk's range
    ts_store.write_validated(OLD[0], OLD[-1], fresh, empty_rejected())
    ts_store.refresh_weekly(OLD[0], OLD[-1])

    expected = sort_bars(pd.concat([newer, fresh], ignore_index=True))
    pd.testing.assert_frame_equal(ts_store.read_bars(OLD[0], OLD[-1]), expected)
    weekly = ts_store.read_weekly(OLD[0], OLD[0])
    assert weekly["bars"].tolist() == [5, 5, 5]
    assert weekly["high"].tolist() == expected.groupby("symbol")["high"].max().tolist()


@pytest.mark.timescale
def test_the_compression_policy_compresses_old_chunks(ts_store: PostgresBarStore, timescale_url: str) -> None:
    ts_store.write_validated(OLD[0], OLD[-1], bars(["AAPL"], OLD), empty_rejected())
    with _connect(timescale_url) as conn:
        job = conn.execute(
            "SELECT job_id FROM timescaledb_information.jobs"
            " WHERE hypertable_schema = %s AND proc_name = 'policy_compression' AND hypertable_name = 'daily_bars'",
            (ts_store.schema_name,),
        ).fetchone()
        assert job is not None
        conn.execute("CALL run_job(%s)", job)  # what the background worker does on schedule
        state = conn.execute(
            "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks WHERE hypertable_schema = %s",
            (ts_store.schema_name,),
        )
        assert state.fetchone() == (True,)
    pd.testing.assert_frame_equal(ts_store.read_bars(OLD[0], OLD[-1]), bars(["AAPL"], OLD))


@pytest.mark.timescale
def test_intraday_bars_are_a_compressed_hypertable_a_replay_can_upsert_into(
    ts_store: PostgresBarStore, timescale_url: str
) -> None:
    session = dt.date(2024, 1, 2)
    frame = SyntheticSource(symbols=["AAPL", "MSFT"]).fetch_intraday(session, interval_minutes=30)
    minutes = intraday_frame(session_bars(frame))
    ts_store.write_intraday(minutes)
    intraday = f"{ts_store.schema_name}.intraday_bars"
    with _connect(timescale_url) as conn:
        dims = conn.execute(
            "SELECT column_name, time_interval FROM timescaledb_information.dimensions"
            " WHERE hypertable_schema = %s AND hypertable_name = 'intraday_bars'",
            (ts_store.schema_name,),
        ).fetchall()
        assert dims == [("ts", dt.timedelta(days=1))]
        segments = conn.execute(
            "SELECT attname FROM timescaledb_information.compression_settings WHERE hypertable_schema = %s"
            " AND hypertable_name = 'intraday_bars' AND segmentby_column_index IS NOT NULL",
            (ts_store.schema_name,),
        ).fetchall()
        assert segments == [("symbol",)]
        assert conn.execute("SELECT compress_chunk(c) FROM show_chunks(%s::regclass) c", (intraday,)).fetchall()

    assert ts_store.write_intraday(minutes) == 0  # a replay into the compressed chunk changes nothing
    corrected = minutes.iloc[[0]].assign(close=minutes["close"].iloc[0] + 0.01)
    corrected["ingested_at"] += pd.Timedelta(hours=1)
    assert ts_store.write_intraday(corrected) == 1
    back = ts_store.read_intraday(session, session)
    assert len(back) == len(minutes)
    assert back.loc[0, "close"] == corrected["close"].iloc[0]


@pytest.mark.timescale
def test_a_database_that_gains_timescale_gets_the_features(
    timescale_url: str, timescale_store_options: dict[str, Any]
) -> None:
    schema = _schema()
    with _connect(timescale_url) as conn:
        assert migrate(conn, schema, timescale=False) == [
            "base_tables",
            "weekly_bars_view",
            "raw_batches",
            "quarantined_files",
            "bar_versions",
            "bar_loads",
            "intraday_bars",
        ]
        rows = bars(["AAPL"], OLD)
        conn.cursor().executemany(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)").format(
                sql.Identifier(schema, "daily_bars")
            ),
            [tuple(r) for r in rows.astype(object).itertuples(index=False)],
        )
    store = PostgresBarStore(url=timescale_url, schema_name=schema, **timescale_store_options)
    try:
        described = store.describe()  # the next start applies the skipped migrations
        assert (described["hypertable"], described["compression"], described["continuous_aggregate"]) == (True,) * 3
        assert [v for v, _, _ in _migrations(timescale_url, schema)] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        pd.testing.assert_frame_equal(store.read_bars(OLD[0], OLD[-1]), sort_bars(rows))
        weekly = store.read_weekly(OLD[0], OLD[0])  # history materialized by the migration, no refresh needed
        assert weekly["week"].tolist() == [utc_midnight(OLD[0])]
        assert weekly["bars"].tolist() == [5]
    finally:
        store.close()


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions))


class _EndsOnCreateExtension:
    """A connection to a server that offers TimescaleDB without preloading it: CREATE EXTENSION ends the session
    (unit test: no such server here; a real one answers FATAL 'extension "timescaledb" must be preloaded')."""

    closed = False

    def execute(self, query: Any, params: Any = None) -> Any:
        if self.closed:
            raise psycopg.OperationalError("the connection is closed")
        if "CREATE EXTENSION" in str(query):
            self.closed = True
            raise psycopg.OperationalError('FATAL: extension "timescaledb" must be preloaded')
        row = (None,) if "pg_available_extensions" in str(query) else None
        return type("Result", (), {"fetchone": staticmethod(lambda: row)})()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


def test_timescaledb_offered_but_not_preloaded_says_what_to_change() -> None:
    version, problem = enable_timescale(_EndsOnCreateExtension())  # type: ignore[arg-type]
    assert version is None
    assert problem == NOT_PRELOADED
    assert "add timescaledb to shared_preload_libraries" in problem


@pytest.mark.postgres
def test_duplicate_keys_are_proved_by_the_key_and_counted_where_it_is_missing(
    pg_store: PostgresBarStore, pg_url: str
) -> None:
    """With the primary key in place the count is 0 without a scan (the catalog proves it); a table whose key
    was dropped is scanned, and a duplicate written behind the store's back is found."""
    pg_store.write_validated(OLD[0], OLD[-1], bars(["AAPL", "MSFT"], OLD), empty_rejected())
    assert pg_store.quality_counts().duplicate_keys == 0
    daily = sql.Identifier(pg_store.schema_name, "daily_bars")
    with _connect(pg_url) as conn:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT daily_bars_pkey").format(daily))
        assert pg_store.quality_counts().duplicate_keys == 0  # scanned now: still none
        conn.execute(
            sql.SQL("INSERT INTO {0} SELECT * FROM {0} WHERE symbol = 'MSFT' AND ts = %s").format(daily),
            (utc_midnight(OLD[2]),),
        )
    counts = pg_store.quality_counts()
    assert counts.duplicate_keys == 1
    assert counts.bars == 2 * len(OLD) + 1
