"""The PostgreSQL store's intraday bars: one set-based upsert from parallel arrays, and the read.

A handler writes a bar or a few at a time while a session runs, so ``INSERT … SELECT FROM unnest(…) ON
CONFLICT`` (one statement, every value a parameter) fits better than COPY through a staging table, which pays
for a temporary table per call. Identifiers are composed with ``psycopg.sql``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from backbone_domain.frames import typed
from backbone_domain.intraday_bars import INTRADAY_DTYPES, STORED_INTRADAY_COLUMNS, intraday_table

_TYPES = ("text", "date", "timestamptz", "int4", *(["float8"] * 5), "text", "timestamptz")
_VALUES = ("session", "open", "high", "low", "close", "volume", "source")


def upsert(schema: str) -> sql.Composed:
    """Same rule as the daily bars: an older ``ingested_at`` never overwrites a newer one and an unchanged bar
    is not touched (a replayed session changes nothing); the row count is the bars inserted or changed."""
    columns = sql.SQL(", ").join(map(sql.Identifier, STORED_INTRADAY_COLUMNS))
    arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(t)) for t in _TYPES)
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in (*_VALUES, "ingested_at")
    )
    stored = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in _VALUES)
    incoming = sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in _VALUES)
    return sql.SQL(
        "INSERT INTO {table} AS s ({columns}) SELECT * FROM unnest({arrays})"
        " ON CONFLICT (symbol, ts, interval_s) DO UPDATE SET {updates}"
        " WHERE s.ingested_at <= excluded.ingested_at AND ({stored}) IS DISTINCT FROM ({incoming})"
    ).format(
        table=sql.Identifier(schema, "intraday_bars"),
        columns=columns,
        arrays=arrays,
        updates=updates,
        stored=stored,
        incoming=incoming,
    )


def read(schema: str, with_symbols: bool) -> sql.Composed:
    # The ts bound lets TimescaleDB skip chunks: a session's bars start at most a day before its date (an FX
    # Monday opens on Sunday) and end by the next midnight.
    return sql.SQL(
        "SELECT {columns} FROM {table} WHERE session BETWEEN %(start)s AND %(end)s"
        " AND ts >= %(first_ts)s AND ts < %(stop_ts)s{only} ORDER BY symbol, ts, interval_s"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, STORED_INTRADAY_COLUMNS)),
        table=sql.Identifier(schema, "intraday_bars"),
        only=sql.SQL(" AND symbol = ANY(%(symbols)s)") if with_symbols else sql.SQL(""),
    )


def write(cur: psycopg.Cursor[Any], schema: str, bars: pd.DataFrame | pa.Table) -> int:
    table = intraday_table(bars)
    if not table.num_rows:
        return 0
    cur.execute(upsert(schema), [table.column(c).to_pylist() for c in STORED_INTRADAY_COLUMNS])
    return cur.rowcount


def fetch(
    cur: psycopg.Cursor[Any], schema: str, start: dt.date, end: dt.date, symbols: Sequence[str] | None
) -> pd.DataFrame:
    params = {
        "start": start,
        "end": end,
        "first_ts": dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), dt.UTC),
        "stop_ts": dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC),
        "symbols": list(symbols or []),
    }
    rows = cur.execute(read(schema, symbols is not None), params).fetchall()
    frame = pd.DataFrame(rows, columns=list(STORED_INTRADAY_COLUMNS))
    for column in ("ts", "ingested_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return typed(frame, INTRADAY_DTYPES)
