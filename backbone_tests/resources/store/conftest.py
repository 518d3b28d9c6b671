"""The store backends every contract test runs over: DuckDB (bootstrap), PostgreSQL and TimescaleDB
(institutional). Each test gets an empty store: a new DuckDB file, or a new schema in the session's PostgreSQL
database / on the TimescaleDB server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backbone_resources.store.base import BarStore
from backbone_resources.store.postgres_store import PostgresBarStore

MakeStore = Callable[[], BarStore]


def _duckdb_factory(tmp_path: Path) -> MakeStore:
    try:
        from backbone_resources.store.duckdb_store import DuckDBBarStore
    except ImportError as exc:
        pytest.skip(f"backbone_resources.store.duckdb_store is not there yet: {exc}")
    path = str(tmp_path / "store.duckdb")
    return lambda: DuckDBBarStore(path=path)


@pytest.fixture(
    params=[
        pytest.param("duckdb"),
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("timescale", marks=pytest.mark.timescale),
    ]
)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """Builds store instances over one empty store (same file / schema), closed at the end of the test."""
    if request.param == "duckdb":
        build = _duckdb_factory(tmp_path)
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        if request.param == "postgres":
            url, options = request.getfixturevalue("pg_url"), {}
        else:
            url = request.getfixturevalue("timescale_url")
            options = request.getfixturevalue("timescale_store_options")
        build = lambda: PostgresBarStore(url=url, schema_name=schema, **options)  # noqa: E731
    made: list[BarStore] = []

    def make() -> BarStore:
        made.append(build())
        return made[-1]

    yield make
    for store in made:
        close = getattr(store, "close", None)
        if close is not None:
            close()


@pytest.fixture
def store(make_store: MakeStore) -> BarStore:
    return make_store()
