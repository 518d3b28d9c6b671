"""The PostgreSQL store's raw landing beyond the contract: one batch per day in ``raw_batches``, rows of a
database from before the batches (``raw_bars``) still read and moved over day by day (the codec alone:
``test_raw_batches.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from backbone_domain import frames
from backbone_resources.store import postgres_copy as pgcopy
from backbone_resources.store import postgres_migrations
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import raw_rows, week
from backbone_tests.resources.store.test_contract_landing import _texts


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
    landed = pd.concat([raw_rows(d) for d in old_days], ignore_index=True)
    with monkeypatch.context() as old_code:  # the store as it was: no raw_batches, rows COPYed into raw_bars
        old_code.setattr(postgres_migrations, "MIGRATIONS", postgres_migrations.MIGRATIONS[:4])
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            postgres_migrations.migrate(conn, schema, timescale=False)
            with conn.transaction(), conn.cursor() as cur:
                pgcopy.copy_in(cur, sql.Identifier(schema, "raw_bars"), frames.raw_table(landed))

    store = PostgresBarStore(url=url, schema_name=schema, **options)
    try:
        assert _texts(store.read_raw(old_days[0], old_days[1])) == _texts(landed)  # read after the migration

        store.replace_raw(old_days[1], old_days[1], raw_rows(old_days[1]).assign(source="again"))

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
        store.replace_raw(days[0], days[-1], pd.concat([raw_rows(d) for d in days[:2]], ignore_index=True))
        store.replace_raw(days[0], days[-1], pd.concat([raw_rows(d) for d in days[:2]], ignore_index=True))

        assert _count(url, schema, "raw_batches") == 2  # replaced, not added; an empty day has no batch
        assert _count(url, schema, "raw_batches", "row_count = 4") == 2
        assert _count(url, schema, "raw_bars") == 0
    finally:
        store.close()
