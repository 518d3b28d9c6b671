"""Arrow tables as PostgreSQL's binary COPY format, encoded column by column without a Python loop per row.

psycopg's own binary COPY (``write_row`` with ``set_types``) formats each row in Python: the per-row cost is
what kept the store below ``psql \\copy``. Here every column becomes an Arrow binary array of its wire fields
(a big-endian int32 length, then the value; length -1 for NULL), the fields of a row are joined by Arrow's
``binary_join_element_wise``, and the joined array's data buffer is the COPY payload as it stands. The
server then skips parsing text: floats, timestamps and dates arrive in their internal form.

Types covered: text (Arrow string), bytea (Arrow binary), float8 (float64), timestamptz (timestamp, any unit
and zone: it is an instant), date (date32), int8 (int64). Text goes as UTF-8, so the connection's client
encoding must be UTF-8 (``copy_binary`` checks). Anything else (jsonb, arrays: the rejected rows) goes through
``write_row``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import Cursor, sql
from psycopg.copy import QueuedLibpqWriter

HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags 0, no header extension
TRAILER: Final = b"\xff\xff"  # a field count of -1
_NULL: Final = b"\xff\xff\xff\xff"  # a field length of -1
_PG_EPOCH_US: Final = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01
_PG_EPOCH_DAYS: Final = 10_957


def copy_binary(cur: Cursor[Any], table: sql.Composable, data: pa.Table, rows_per_block: int = 50_000) -> None:
    """COPY ``data`` (columns named as the table's) into ``table`` in binary, one encoded block at a time."""
    encoding = cur.connection.info.encoding
    if encoding != "utf-8":
        raise ValueError(f"binary COPY sends text as UTF-8 but the connection's client encoding is {encoding}")
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in data.column_names)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(table, columns)
    # psycopg's queued writer sends on a thread of its own: the next block is encoded (Arrow kernels, mostly
    # outside the GIL) while the server ingests this one, instead of the server waiting for each encode.
    with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(HEADER)
        for block in encode(data, rows_per_block):
            copy.write(block)
        copy.write(TRAILER)


def encode(data: pa.Table, rows_per_block: int = 50_000) -> Iterator[memoryview]:
    """The binary COPY tuples of ``data``, in blocks of at most ``rows_per_block`` rows (no header, no trailer)."""
    count = len(data.column_names).to_bytes(2, "big")
    for batch in data.to_batches(max_chunksize=rows_per_block):
        if not batch.num_rows:
            continue
        fields = [_field(batch.column(i)) for i in range(batch.num_columns)]
        rows = pc.binary_join_element_wise(pa.array([count] * batch.num_rows, pa.binary()), *fields, b"")
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1, offset=rows.offset * 4)
        yield memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]


def _field(column: pa.Array) -> pa.Array:
    """One column as binary wire fields: length prefix and value, or the NULL marker."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        payload = column.cast(pa.binary())
        lengths = pc.binary_length(payload).to_numpy(zero_copy_only=False)
        prefixed = pc.binary_join_element_wise(_fixed(np.nan_to_num(lengths).astype(">i4")), payload, b"")
        return prefixed.fill_null(_NULL) if column.null_count else prefixed
    if pa.types.is_timestamp(kind):
        micros = column.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.int64())
        values = _numbers(micros, np.int64) - _PG_EPOCH_US
    elif pa.types.is_date32(kind):
        values = _numbers(column.cast(pa.int32()), np.int32) - _PG_EPOCH_DAYS
    elif pa.types.is_floating(kind):
        values = _numbers(column.cast(pa.float64()), np.float64)
    elif pa.types.is_integer(kind):
        values = _numbers(column.cast(pa.int64()), np.int64)
    else:
        raise TypeError(f"no binary COPY encoding for column type {kind}")
    wire = values.astype(values.dtype.newbyteorder(">"))
    size = np.full(len(wire), wire.itemsize, dtype=">i4")
    record = np.empty(len(wire), dtype=[("size", ">i4"), ("value", wire.dtype)])
    record["size"], record["value"] = size, wire
    fields = _fixed(record)
    if column.null_count:
        fields = pc.if_else(column.is_null(), pa.scalar(_NULL, pa.binary()), fields)
    return fields


def _numbers(column: pa.Array, dtype: type[np.number]) -> np.ndarray:
    """The values as numpy, NULLs as 0 (their fields are replaced by the NULL marker afterwards)."""
    return column.fill_null(0).to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def _fixed(values: np.ndarray) -> pa.Array:
    """Each element's bytes (a structured or scalar numpy array) as one binary value."""
    width = values.dtype.itemsize
    raw = pa.py_buffer(np.ascontiguousarray(values).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(values), [None, raw]).cast(pa.binary())
