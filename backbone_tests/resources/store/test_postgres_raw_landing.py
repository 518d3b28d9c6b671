"""The PostgreSQL store's raw landing beyond the contract: one batch per day in ``raw_batches``, rows of a
database from before the batches (``raw_bars``) still read and moved over day by day, and the codec alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from backbone_domain import frames
from backbone_resources.store import postgres_copy as pgcopy
from backbone_resources.store import postgres_migrations, raw_batches
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.resources.store.test_contract import MON, _texts, raw_frame, week


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("timescale", marks=pytest.mark.timescale),
    ]
)
def server(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    if request.param == "postgres":
        return request.getfixturevalue("pg_url"), {}
    return request.getfixturevalue("timescale_url"), request.getfixturevalue("timescale_store_options")


@pytest.fixture
def schema(server: tuple[str, dict[str, Any]]) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(server[0], autocommit=True, prepare_threshold=None) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _count(url: str, schema: str, table: str, where: str = "TRUE") -> int:
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(schema, table), sql.SQL(where))
        row = conn.execute(query).fetchone()
    return row[0] if row else 0


def test_a_database_from_before_the_batches_keeps_its_landed_rows(
    server: tuple[str, dict[str, Any]], schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = server
    old_days = week(2)
    landed = pd.concat([raw_frame(d) for d in old_days], ignore_index=True)
    with monkeypatch.context() as old_code:  # the store as it was: no raw_batches, rows COPYed into raw_bars
        old_code.setattr(postgres_migrations, "MIGRATIONS", postgres_migrations.MIGRATIONS[:4])
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            postgres_migrations.migrate(conn, schema, timescale=False)
            with conn.transaction(), conn.cursor() as cur:
                pgcopy.copy_in(cur, sql.Identifier(schema, "raw_bars"), frames.raw_table(landed))

    store = PostgresBarStore(url=url, schema_name=schema, **options)
    try:
        assert _texts(store.read_raw(old_days[0], old_days[1])) == _texts(landed)  # read after the migration

        store.replace_raw(old_days[1], old_days[1], raw_frame(old_days[1]).assign(source="again"))

        back = store.read_raw(old_days[0], old_days[1])
        assert back["source"].tolist() == ["csv:/data"] * 4 + ["again"] * 4  # one day in each table, in day order
        assert _count(url, schema, "raw_bars") == 4  # the day not landed again stays where it was
        assert _count(url, schema, "raw_batches") == 1
    finally:
        store.close()


def test_each_landed_day_is_one_batch(server: tuple[str, dict[str, Any]], schema: str) -> None:
    url, options = server
    store = PostgresBarStore(url=url, schema_name=schema, **options)
    try:
        days = week(3)
        store.replace_raw(days[0], days[-1], pd.concat([raw_frame(d) for d in days[:2]], ignore_index=True))
        store.replace_raw(days[0], days[-1], pd.concat([raw_frame(d) for d in days[:2]], ignore_index=True))

        assert _count(url, schema, "raw_batches") == 2  # replaced, not added; an empty day has no batch
        assert _count(url, schema, "raw_batches", "row_count = 4") == 2
        assert _count(url, schema, "raw_bars") == 0
    finally:
        store.close()


# -- the codec alone -------------------------------------------------------------------------------------


def test_batches_round_trip_a_day_exactly() -> None:
    rows = frames.raw_table(raw_frame(MON))
    (day, part), *rest = raw_batches.by_day(rows)

    back = raw_batches.decode([raw_batches.encode(part)])

    assert (day, rest) == (MON, [])
    assert back.schema == raw_batches.RAW_ARROW_SCHEMA
    assert sorted(back.to_pylist(), key=repr) == sorted(rows.to_pylist(), key=repr)


def test_days_are_split_and_ordered_as_read_raw_promises() -> None:
    later, earlier = week(2)[1], MON
    rows = frames.raw_table(pd.concat([raw_frame(later), raw_frame(earlier)], ignore_index=True))

    split = list(raw_batches.by_day(rows))

    assert [day for day, _ in split] == [earlier, later]
    first = split[0][1].to_pydict()
    assert first["symbol"] == ["AAPL", "AAPL", "MSFT", None]
    assert first["open"] == ["1.50", "", "NaN", None]  # the two AAPL rows (same ts) keep their landing order


def test_nothing_decodes_to_an_empty_typed_table() -> None:
    empty = raw_batches.decode([])
    assert empty.num_rows == 0
    assert empty.schema == raw_batches.RAW_ARROW_SCHEMA
    assert list(raw_batches.by_day(raw_batches.RAW_ARROW_SCHEMA.empty_table())) == []
    assert isinstance(raw_batches.encode(empty), bytes)
    assert pa.ipc.open_stream(raw_batches.encode(empty)).read_all().num_rows == 0
