"""Frames in and out of PostgreSQL through COPY in CSV, serialized and parsed in bulk by Arrow.

Row-by-row ``write_row`` from Python reaches ~0.4x of ``psql \\copy``; Arrow's CSV writer and reader keep the
store near the server's own COPY rate. Timestamps travel as UTC wall-clock text on the way in (Arrow
formats tz-naive timestamps an order of magnitude faster than tz-aware ones; the writing transaction sets
``TIME ZONE 'UTC'`` locally) and as epoch microseconds on the way out (independent of DateStyle and TimeZone).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import Cursor, sql
from psycopg.abc import Params

from backbone_domain.bars import BAR_COLUMNS, BAR_DTYPES, PRICE_COLUMNS, VALUE_COLUMNS

RAW_COPY_COLUMNS = ("partition_date", "source", "symbol", "ts", *VALUE_COLUMNS, "payload")
REJECTED_COPY_COLUMNS = ("partition_date", "source", "symbol", "ts", "payload", "reasons", "rejected_at")
_UTC_NAIVE = pa.timestamp("us")


def copy_in(cur: Cursor[Any], table: sql.Composable, data: pa.Table, rows_per_block: int = 20_000) -> None:
    """COPY ``data`` (columns named as the table's) into ``table`` as CSV blocks; the server parses one
    block while the next is serialized."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in data.column_names)
    options = pacsv.WriteOptions(include_header=False)
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, columns)) as copy:
        for batch in data.to_batches(max_chunksize=rows_per_block):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getbuffer())


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


def _utc_naive(column: pd.Series) -> pa.Array:
    """UTC wall-clock timestamps (tz-naive input is taken as UTC), NaT as NULL."""
    if not (isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column.dtype)):
        column = pd.to_datetime(column, utc=True)
    return pa.array(column, from_pandas=True).cast(_UTC_NAIVE, safe=False)


def bars_table(frame: pd.DataFrame) -> pa.Table:
    """Accepted bars (BAR_COLUMNS) as an Arrow table ready for ``copy_in``."""
    arrays = {}
    for name in BAR_COLUMNS:
        column = frame[name]
        if name in ("ts", "ingested_at"):
            arrays[name] = _utc_naive(column)
        elif name in ("symbol", "source"):
            arrays[name] = pa.array(column, type=pa.string(), from_pandas=True)
        else:
            arrays[name] = pa.array(column, type=pa.float64(), from_pandas=True)
    return pa.table(arrays)


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _text(column: pd.Series) -> pa.Array:
    """Values as text: strings untouched, numbers as ``repr`` (the text every backend lands), NaN as NULL."""
    if pd.api.types.is_float_dtype(column.dtype):
        return _float_text(column.to_numpy(dtype="float64", na_value=np.nan))
    if pd.api.types.is_integer_dtype(column.dtype):
        return pa.array(column, from_pandas=True).cast(pa.string())
    try:
        return pa.array(column, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        values = [None if _missing(v) else v if isinstance(v, str) else _scalar_text(v) for v in column]
        return pa.array(values, type=pa.string())


def _float_text(values: np.ndarray) -> pa.Array:
    """``repr`` of each float, vectorized: Arrow's shortest round-trip digits match it except on whole numbers
    (Arrow drops the ".0") and outside [1e-4, 1e16) (different exponent rules), which are handled apart."""
    text = pa.array(values, from_pandas=True).cast(pa.string())
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(values)
        whole = (values == np.trunc(values)) & (magnitude < 1e16) & ((values != 0) | ~np.signbit(values))
        odd = ~whole & ~np.isnan(values) & ((magnitude < 1e-4) | (magnitude >= 1e16))
    ints = pa.array(np.where(whole, values, 0).astype(np.int64)).cast(pa.string())
    text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(ints, ".0", ""), text)
    if odd.any():
        patched = text.to_pylist()
        for i in np.flatnonzero(odd):
            patched[i] = repr(float(values[i]))
        text = pa.array(patched, type=pa.string())
    return text


def _scalar_text(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def _dates(column: pd.Series) -> pa.Array:
    try:
        return pa.array(column, type=pa.date32(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(pd.to_datetime(column).dt.date, type=pa.date32(), from_pandas=True)


def raw_table(frame: pd.DataFrame) -> pa.Table:
    """Raw rows (RAW_COLUMNS) as an Arrow table of RAW_COPY_COLUMNS ready for ``copy_in``."""
    arrays = {"partition_date": _dates(frame["partition_date"])}
    for name in ("source", "symbol", *VALUE_COLUMNS, "payload"):
        arrays[name] = _text(frame[name])
    arrays["ts"] = _utc_naive(frame["ts"])
    return pa.table({name: arrays[name] for name in RAW_COPY_COLUMNS})


def _json_text(value: object) -> str | None:
    """A JSON document for the jsonb payload; text that is not JSON is kept as a JSON string."""
    if _missing(value):
        return None
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return json.dumps(value)
        return value
    return json.dumps(value, default=str)


def _reasons(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [str(v) for v in value]  # type: ignore[attr-defined]


def _timestamp(value: object) -> dt.datetime | None:
    if _missing(value):
        return None
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()


def _date(value: object) -> dt.date | None:
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def rejected_rows(frame: pd.DataFrame, now: dt.datetime) -> Iterator[tuple[object, ...]]:
    """Rejected rows (REJECTED_COLUMNS) as REJECTED_COPY_COLUMNS tuples for ``copy.write_row``."""
    for row in frame.itertuples(index=False):
        yield (
            _date(row.partition_date),
            None if _missing(row.source) else row.source,
            None if _missing(row.symbol) else row.symbol,
            _timestamp(row.ts),
            _json_text(row.payload),
            _reasons(row.reasons),
            _timestamp(row.rejected_at) or now,
        )


def epoch_us(column: str) -> sql.Composed:
    """A timestamptz column as epoch microseconds, exact and independent of the session's DateStyle."""
    return sql.SQL("(extract(epoch FROM {}) * 1000000)::bigint").format(sql.Identifier(column))


def to_frame(table: pa.Table, ts_columns: Sequence[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """An Arrow table from ``copy_out`` as a frame: epoch-microsecond columns become tz-aware UTC."""
    frame = table.to_pandas()
    for name in ts_columns:
        frame[name] = pd.to_datetime(frame[name], unit="us", utc=True).astype("datetime64[us, UTC]")
    for name, dtype in dtypes.items():
        if dtype == "object":
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        else:
            frame[name] = frame[name].astype(dtype)
    return frame


BAR_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "ts": pa.int64(),
    **dict.fromkeys(PRICE_COLUMNS, pa.float64()),
    "adj_close": pa.float64(),
    "volume": pa.float64(),
    "source": pa.string(),
    "ingested_at": pa.int64(),
}
BAR_FRAME_DTYPES = {k: v for k, v in BAR_DTYPES.items() if k not in ("ts", "ingested_at")}
RAW_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "ts": pa.int64(),
    **dict.fromkeys(VALUE_COLUMNS, pa.string()),
    "source": pa.string(),
    "partition_date": pa.date32(),
    "payload": pa.string(),
}
WEEKLY_TYPES: dict[str, pa.DataType] = {
    "symbol": pa.string(),
    "week": pa.int64(),
    **dict.fromkeys(PRICE_COLUMNS, pa.float64()),
    "volume": pa.float64(),
    "bars": pa.int64(),
}


def check_partitions(days: Iterable[dt.date | None], start: dt.date, end: dt.date, what: str) -> None:
    """Refuse rows outside [start, end]: replacing those partitions would leave them behind or lose them."""
    outside = sorted({d for d in days if d is None or not start <= d <= end}, key=str)
    if outside:
        raise ValueError(f"{what} rows with partition_date {outside[:5]} fall outside [{start}, {end}]")
