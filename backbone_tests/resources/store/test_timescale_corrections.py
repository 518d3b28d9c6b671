"""Corrections that land in compressed chunks (issue 14, item 3): through the store's normal write path, only
compressed batches of a restated symbol holding a restated day leave the columnstore (here: exactly the batches
holding a restated bar); the chunks stay compressed, and the values read back now and as of before.

A batch is one symbol's run within a chunk (``compress_segmentby = 'symbol'``, a year a chunk, fewer than 1,000
bars a symbol a year), so the rows a DML statement moved out of a compressed chunk are visible as the rows in the
chunk's own (uncompressed) table, ``SELECT … FROM ONLY <chunk>``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from backbone_domain.bar_history import BarLoad
from backbone_domain.bars import empty_rejected
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import bars

pytestmark = pytest.mark.timescale

SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
DAYS = [d for d in (dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range(730)) if d.weekday() < 5]
T1, T2, T3, T4 = (pd.Timestamp(f"2024-06-0{d}T08:00:00", tz="UTC") for d in (1, 2, 3, 4))


@pytest.fixture
def ts_store(timescale_url: str, timescale_store_options: dict[str, Any]) -> Iterator[PostgresBarStore]:
    store = PostgresBarStore(url=timescale_url, schema_name=f"t_{uuid.uuid4().hex[:12]}", **timescale_store_options)
    yield store
    store.close()


def _load(at: pd.Timestamp) -> BarLoad:
    return BarLoad(at.to_pydatetime(), f"run-{at.day}", "csv", DAYS[0], DAYS[-1])


def _rowstore(conn: psycopg.Connection, schema: str) -> dict[tuple[str, str], int]:
    """Rows per (chunk, symbol) outside the columnstore: what DML moved out of compressed batches."""
    chunks = conn.execute(
        "SELECT chunk_schema, chunk_name FROM timescaledb_information.chunks"
        " WHERE hypertable_schema = %s AND hypertable_name = 'daily_bars'",
        (schema,),
    ).fetchall()
    moved: dict[tuple[str, str], int] = {}
    for chunk_schema, chunk_name in chunks:
        chunk = sql.Identifier(chunk_schema, chunk_name)
        query = sql.SQL("SELECT symbol, count(*) FROM ONLY {} GROUP BY symbol").format(chunk)
        for symbol, rows in conn.execute(query):
            moved[(f"{chunk_schema}.{chunk_name}", symbol)] = rows
    return moved


def test_a_correction_in_compressed_chunks_moves_only_the_batches_it_touches(
    ts_store: PostgresBarStore, timescale_url: str
) -> None:
    schema = ts_store.schema_name
    first = bars(SYMBOLS, DAYS, ingested_at=T1)
    ts_store.write_validated(DAYS[0], DAYS[-1], first, empty_rejected(), load=_load(T1))
    with psycopg.connect(timescale_url, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SELECT compress_chunk(c) FROM show_chunks(%s::regclass) c", (f"{schema}.daily_bars",))
        assert _rowstore(conn, schema) == {}
        chunk_of = {  # the chunk each bar lives in
            (symbol, ts): chunk
            for symbol, ts, chunk in conn.execute(
                sql.SQL("SELECT symbol, ts, tableoid::regclass::text FROM {}").format(
                    sql.Identifier(schema, "daily_bars")
                )
            )
        }

        # The vendor restates three bars of three symbols in the same fortnight; the run re-delivers the range.
        fixed = first.copy()
        rows = [fixed.index[fixed["symbol"] == symbol][day] for symbol, day in (("AAA", 0), ("CCC", 5), ("EEE", 9))]
        fixed.loc[rows, "close"] += 0.25
        fixed["ingested_at"] = T2
        written = ts_store.write_validated(DAYS[0], DAYS[-1], fixed, empty_rejected(), load=_load(T2))
        moved = _rowstore(conn, schema)
        compressed = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_compressed) FROM timescaledb_information.chunks"
            " WHERE hypertable_schema = %s",
            (schema,),
        ).fetchone()

        # A re-run that changes nothing moves nothing more out of the columnstore.
        again = fixed.assign(ingested_at=T3)
        unchanged = ts_store.write_validated(DAYS[0], DAYS[-1], again, empty_rejected(), load=_load(T3))
        moved_again = _rowstore(conn, schema)

        # One write restating BBB's last bar (another chunk) and DDD's first: those two batches more, not BBB's
        # batch holding DDD's day nor DDD's holding BBB's.
        pair = [fixed.index[fixed["symbol"] == "BBB"][-1], fixed.index[fixed["symbol"] == "DDD"][0]]
        late = fixed.loc[pair].assign(close=lambda f: f["close"] + 1)
        late["ingested_at"] = T4
        ts_store.write_validated(DAYS[0], DAYS[-1], late, empty_rejected(), load=_load(T4))
        moved_late = _rowstore(conn, schema)

    assert written.bars == 3
    assert compressed is not None
    assert compressed[0] > 1
    assert compressed[0] == compressed[1]  # every chunk still compressed
    batch_rows = Counter((chunk, symbol) for (symbol, _), chunk in chunk_of.items())
    batches = {(chunk_of[(s, ts)], s) for s, ts in fixed.loc[[*rows, *pair], ["symbol", "ts"]].values}
    [first_chunk] = {chunk for chunk, symbol in batches if symbol != "BBB"}
    [(late_chunk, _)] = [batch for batch in batches if batch[1] == "BBB"]
    assert late_chunk != first_chunk
    restated = {(first_chunk, s): batch_rows[(first_chunk, s)] for s in ("AAA", "CCC", "EEE")}
    assert moved == restated  # whole batches of the restated (chunk, symbol) pairs, nothing else
    assert unchanged.bars == 0
    assert moved_again == moved
    two_more = {batch: batch_rows[batch] for batch in ((late_chunk, "BBB"), (first_chunk, "DDD"))}
    assert moved_late == restated | two_more

    current = fixed.copy()
    current.loc[late.index, "close"] = late["close"]
    assert ts_store.read_bars(DAYS[0], DAYS[-1])["close"].tolist() == current["close"].tolist()
    before = ts_store.read_bars(DAYS[0], DAYS[-1], as_of=(T2 - pd.Timedelta(microseconds=1)).to_pydatetime())
    assert before["close"].tolist() == first["close"].tolist()
    assert before["ingested_at"].eq(T1).all()
    history = ts_store.bar_history("CCC", DAYS[5])
    assert history["run_id"].tolist() == ["run-1", "run-2"]
    assert history["close"].diff().iloc[1] == 0.25
