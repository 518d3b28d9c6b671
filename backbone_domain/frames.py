"""Frames into and out of a bar store, the same for every backend: the Arrow tables a write hands over, the
partition check of a replacing write, and the documented dtypes of what a read returns.

One copy here so that a raw value lands as the same text, and reads back with the same types, whichever
store holds it. Pure pandas / pyarrow; the stores add only their driver's transport.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backbone_domain.bars import BAR_COLUMNS, RAW_COLUMNS, RAW_DTYPES, REJECTED_COLUMNS, VALUE_COLUMNS
from backbone_domain.validation_rules import is_null

_UTC = pa.timestamp("us", tz="UTC")


def bars_table(frame: pd.DataFrame) -> pa.Table:
    """Accepted bars (BAR_COLUMNS): text, float64 values, timestamps as tz-aware UTC (tz-naive taken as UTC).

    Raises ValueError for a symbol or source holding a NUL byte, on every tier alike: PostgreSQL cannot store
    one, and ``validate_bars`` never accepts such a row (it quarantines it, ``nul_bytes``).
    """
    table = _table(frame, BAR_COLUMNS, dict.fromkeys(VALUE_COLUMNS, _floats))
    for name in ("symbol", "source"):
        found = pc.match_substring(table.column(name), "\x00")
        if pc.any(found).as_py():
            at = pc.index(found, True).as_py()
            raise ValueError(
                f"accepted bar {at} has a NUL byte in {name} ({table.column(name)[at].as_py()!r}), which a store "
                "cannot keep: validate_bars quarantines such rows"
            )
    return table


def raw_table(frame: pd.DataFrame, *, keep_numbers: bool = False) -> pa.Table:
    """Raw rows (RAW_COLUMNS) with every value as text (``text_array``), the payload as text (records as JSON).

    With ``keep_numbers``, a value column the source delivered as numbers (a float or integer dtype) stays
    float64 / int64 instead: its text would be each number's repr, so nothing is lost, and a store whose
    landing can hold numbers (PostgreSQL's day batches) spares turning 1.26M rows' floats into text and
    validation parsing them back (``raw_values_as_text`` gives the text when a reader needs it).
    """
    if not keep_numbers:
        return _table(frame, RAW_COLUMNS)
    numbers = {c: _numbers for c in VALUE_COLUMNS if pd.api.types.is_numeric_dtype(frame[c].dtype)}
    numbers = {c: f for c, f in numbers.items() if not pd.api.types.is_bool_dtype(frame[c].dtype)}
    return _table(frame, RAW_COLUMNS, numbers)


def raw_values_as_text(table: pa.Table) -> pa.Table:
    """``table`` with every value column that holds numbers (``raw_table(keep_numbers=True)``) as the text
    ``raw_table`` would have landed: the same rows, whichever way they were kept."""
    for name in VALUE_COLUMNS:
        at = table.schema.get_field_index(name)
        if at >= 0 and (pa.types.is_floating(table.schema.types[at]) or pa.types.is_integer(table.schema.types[at])):
            table = table.set_column(at, name, _number_text(table.column(at).combine_chunks()))
    return table


def raw_frame(table: pa.Table) -> pd.DataFrame:
    """Landed rows as ``BarStore.read_raw`` returns them (RAW_DTYPES), except that value columns holding
    numbers stay numbers: float64, or Int64 for integers (NULL as NA)."""
    numbers = {
        f.name: "float64" if pa.types.is_floating(f.type) else "Int64"
        for f in table.schema
        if f.name in VALUE_COLUMNS and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
    }
    return typed(table.to_pandas(), RAW_DTYPES | numbers)


def rejected_table(frame: pd.DataFrame) -> pa.Table:
    """Rejected rows (REJECTED_COLUMNS): reasons as a list of text, the payload as text (records as JSON),
    whether or not it is JSON (each store decides how to keep text that is not); a missing ``rejected_at``
    stays NULL for the store to stamp."""
    return _table(frame, REJECTED_COLUMNS)


def keys_table(frame: pd.DataFrame) -> pa.Table:
    """Bar keys (symbol, ts) as Arrow: symbol text, ts timestamp[us, UTC]."""
    return pa.table(
        {
            "symbol": pa.array(frame["symbol"].astype(object).tolist(), type=pa.string()),
            "ts": pa.array(pd.to_datetime(frame["ts"], utc=True).dt.as_unit("us"), type=pa.timestamp("us", tz="UTC")),
        }
    )


def check_partitions(table: pa.Table, start: dt.date, end: dt.date, what: str) -> None:
    """Refuse rows outside [start, end]: replacing those partitions would leave them behind or lose them."""
    days = table.column("partition_date").unique().to_pylist()
    outside = sorted({d for d in days if d is None or not start <= d <= end}, key=str)
    if outside:
        raise ValueError(f"{what} rows with partition_date {outside[:5]} fall outside [{start}, {end}]")


def typed(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """The columns of ``dtypes`` in its order, with its dtypes; object columns hold None (not NaN) for NULL."""
    frame = frame.loc[:, list(dtypes)]
    for column, dtype in dtypes.items():
        values = frame[column]
        if dtype == "object":
            frame[column] = values.astype(object).where(values.notna(), None)
        else:
            frame[column] = values.astype(dtype)
    return frame


def text_array(column: pd.Series) -> pa.Array:
    """Values as text: strings untouched, numbers as ``repr`` (the shortest text that reads back as the same
    float), records as JSON, NaN and other nulls as NULL."""
    if pd.api.types.is_float_dtype(column.dtype):
        return _float_text(column.to_numpy(dtype="float64", na_value=np.nan))
    if pd.api.types.is_integer_dtype(column.dtype):
        return pa.array(column, from_pandas=True).cast(pa.string())
    return _strings(column, _scalar_text)


def _strings(column: pd.Series, render: Callable[[object], str]) -> pa.Array:
    """Text as it is (in bulk when the column is all text and nulls), anything else through ``render``."""
    try:
        return pa.array(column, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        values = [None if is_null(v) else v if isinstance(v, str) else render(v) for v in column]
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
        patches = pa.array([repr(v) for v in values[odd].tolist()], type=pa.string())
        text = pc.replace_with_mask(text, pa.array(odd), patches)
    return text


def _numbers(column: pd.Series) -> pa.Array:
    """A numeric column as float64 (NaN as NULL: pandas' "no value") or int64 (nullable integers too)."""
    if pd.api.types.is_integer_dtype(column.dtype):
        return pa.array(column, type=pa.int64(), from_pandas=True)
    return _floats(column)


def _number_text(column: pa.Array) -> pa.Array:
    """The text ``text_array`` gives the same numbers: floats as repr, integers in decimal, NULL as NULL."""
    if pa.types.is_floating(column.type):
        return _float_text(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    return column.cast(pa.string())


def _scalar_text(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, float | np.floating):  # repr(np.float64(x)) would read "np.float64(x)"
        return repr(float(value))
    return str(value)


def _payloads(column: pd.Series) -> pa.Array:
    """Payloads as text: strings untouched, records as JSON."""
    return _strings(column, lambda record: json.dumps(record, default=str))


def _reasons(column: pd.Series) -> pa.Array:
    """A list of text per row: a single reason as a list of one, nothing as an empty list."""
    lists = [[v] if isinstance(v, str) else [] if is_null(v) else [str(r) for r in v] for v in column]
    return pa.array(lists, type=pa.list_(pa.string()))


def _floats(column: pd.Series) -> pa.Array:
    return pa.array(column, type=pa.float64(), from_pandas=True)


def _utc(column: pd.Series) -> pa.Array:
    """Tz-aware UTC microseconds (tz-naive input is taken as UTC), NaT as NULL."""
    if not (isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column.dtype)):
        column = pd.to_datetime(column, utc=True)
    return pa.array(column, from_pandas=True).cast(_UTC, safe=False)


def _dates(column: pd.Series) -> pa.Array:
    try:
        return pa.array(column, type=pa.date32(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(pd.to_datetime(column).dt.date, type=pa.date32(), from_pandas=True)


_Converter = Callable[[pd.Series], pa.Array]
# How each column goes into Arrow; any other column is text.
_CONVERTERS: dict[str, _Converter] = {
    "ts": _utc,
    "ingested_at": _utc,
    "rejected_at": _utc,
    "partition_date": _dates,
    "payload": _payloads,
    "reasons": _reasons,
}


def _table(frame: pd.DataFrame, columns: tuple[str, ...], converters: dict[str, _Converter] | None = None) -> pa.Table:
    convert = _CONVERTERS | (converters or {})
    return pa.table({name: convert.get(name, text_array)(frame[name]) for name in columns})
