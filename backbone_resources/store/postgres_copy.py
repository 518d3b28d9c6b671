"""Frames in and out of PostgreSQL through COPY, in bulk: binary on the way in, CSV parsed by Arrow on the way out.

Row-by-row ``write_row`` from Python reaches ~0.4x of ``psql \\copy``; bulk encoding keeps the store at the
server's own COPY rate. Writes go in binary (``postgres_binary``: the server parses no text, and timestamps
are instants, independent of the session's TimeZone); reads come back as CSV that Arrow parses, timestamps as
epoch microseconds (independent of DateStyle and TimeZone).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import Cursor, sql
from psycopg.abc import Params

from backbone_domain.bars import PRICE_COLUMNS, VALUE_COLUMNS
from backbone_domain.frames import typed
from backbone_domain.nul_bytes import payload_without_nul, text_without_nul
from backbone_resources.store.postgres_binary import copy_binary

REJECTED_COPY_COLUMNS = ("partition_date", "source", "symbol", "ts", "payload", "reasons", "rejected_at")


def copy_in(cur: Cursor[Any], table: sql.Composable, data: pa.Table, rows_per_block: int = 50_000) -> None:
    """COPY ``data`` (columns named as the table's) into ``table`` in binary (``postgres_binary``)."""
    copy_binary(cur, table, data, rows_per_block)


def copy_out(cur: Cursor[Any], query: sql.Composable, params: Params, types: dict[str, pa.DataType]) -> pa.Table:
    """Run ``COPY (query) TO STDOUT`` and parse the CSV with ``types`` (column order = select list)."""
    with cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query), params) as copy:
        data = b"".join(copy)
    if not data:
        return pa.table({name: pa.array([], type=t) for name, t in types.items()})
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=list(types)),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        # Only an unquoted empty field is NULL; "" stays an empty string, and "NaN" text stays text.
        convert_options=pacsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )


def _json_document(text: str | None) -> str | None:
    """A document for the jsonb payload: text that is not JSON is kept as a JSON string."""
    if text is None:
        return text
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(text)
    return text


def rejected_rows(table: pa.Table, now: dt.datetime) -> list[tuple[object, ...]]:
    """Rejected rows (``frames.rejected_table``) as REJECTED_COPY_COLUMNS tuples for ``copy.write_row``;
    a row without ``rejected_at`` is stamped ``now``. Text cannot hold a NUL here: validation has already written
    any as the text ``\\u0000`` (``nul_bytes``), and a rejected row from elsewhere gets the same."""
    columns = {name: table.column(name).to_pylist() for name in REJECTED_COPY_COLUMNS}
    for name in ("symbol", "source"):
        columns[name] = [text_without_nul(v) for v in columns[name]]
    columns["reasons"] = [None if r is None else [text_without_nul(t) for t in r] for r in columns["reasons"]]
    columns["payload"] = [_json_document(payload_without_nul(p)) for p in columns["payload"]]
    columns["rejected_at"] = [stamp or now for stamp in columns["rejected_at"]]
    return list(zip(*columns.values(), strict=True))


def epoch_us(*column: str) -> sql.Composed:
    """A timestamptz column (its name, or table and name) as epoch microseconds, exact and independent of the
    session's DateStyle."""
    return sql.SQL("(extract(epoch FROM {}) * 1000000)::bigint").format(sql.Identifier(*column))


def to_frame(table: pa.Table, ts_columns: Sequence[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """An Arrow table from ``copy_out`` as a frame of ``dtypes``: epoch-microsecond columns become tz-aware UTC."""
    frame = table.to_pandas()
    for name in ts_columns:
        frame[name] = pd.to_datetime(frame[name], unit="us", utc=True)
    return typed(frame, dtypes)


def epoch_to_utc(table: pa.Table, ts_columns: Sequence[str]) -> pa.Table:
    """Epoch-microsecond columns from ``copy_out`` as timestamp[us, UTC], staying in Arrow."""
    for name in ts_columns:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, table.column(at).cast(pa.timestamp("us", tz="UTC")))
    return table


BAR_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "ts": pa.int64(),
    **dict.fromkeys(PRICE_COLUMNS, pa.float64()),
    "adj_close": pa.float64(),
    "volume": pa.float64(),
    "source": pa.string(),
    "ingested_at": pa.int64(),
}
RAW_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "ts": pa.int64(),
    **dict.fromkeys(VALUE_COLUMNS, pa.string()),
    "source": pa.string(),
    "partition_date": pa.date32(),
    "payload": pa.string(),
}
# reasons as JSON text (to_json): an array is easier to parse that way than as a text[] literal.
REJECTED_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "ts": pa.int64(),
    "partition_date": pa.date32(),
    "source": pa.string(),
    "payload": pa.string(),
    "reasons": pa.string(),
    "rejected_at": pa.int64(),
}
VERSION_KEY_TYPES: dict[str, pa.DataType] = {"symbol": pa.string(), "ts": pa.int64(), "ingested_at": pa.int64()}
WEEKLY_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "week": pa.int64(),
    **dict.fromkeys(PRICE_COLUMNS, pa.float64()),
    "volume": pa.float64(),
    "bars": pa.int64(),
}
