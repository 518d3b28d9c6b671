"""Landed raw rows as one compressed Arrow IPC stream per partition day: the PostgreSQL store's raw landing.

Landing 1.26M raw rows as SQL rows cost a row's work three times (the server storing each, the server sorting
and sending each back, psycopg handing each to Python), more than writing the bars themselves
(docs/benchmarks.md). Nothing reads the raw landing but ``read_raw``, whole partitions at a time, so the
server need not see inside it: a day's rows become one value, written and read back as one, and a read costs
per day, not per row. A day is the unit because partitions are days: replacing any span replaces whole
batches, never part of one.

Pure Arrow, no database: the store (``postgres_raw``) moves the bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backbone_domain.bars import RAW_COLUMNS, VALUE_COLUMNS
from backbone_domain.frames import raw_values_as_text

_TYPED: Final = {"ts": pa.timestamp("us", tz="UTC"), "partition_date": pa.date32()}
# The landing's columns; a value column may instead hold the numbers the source delivered (float64 or int64,
# ``frames.raw_table(keep_numbers=True)``).
RAW_ARROW_SCHEMA: Final = pa.schema([(name, _TYPED.get(name, pa.string())) for name in RAW_COLUMNS])
_NUMBERS: Final = (pa.float64(), pa.int64())
# zstd: raw text compresses ~3x (payload JSON more; lz4 ~1.7x); the landing is kept, so its size on disk and
# in the WAL matters more than the ~0.5 µs a row zstd costs over lz4. Readers need no setting: a stream names
# its codec. No use_threads: a day's columns are a few KiB each, and handing each to Arrow's pool cost ~20% more
# CPU than compressing it in place; ``encode_days`` runs whole days side by side instead, the same bytes.
_WRITE_OPTIONS: Final = pa.ipc.IpcWriteOptions(compression="zstd", use_threads=False)
# Days encoded at once: the step's other core. Arrow releases the GIL while it compresses and writes.
_ENCODE_WORKERS: Final = 2


def in_landing_order(table: pa.Table) -> pa.Table:
    """Rows ordered as ``read_raw`` promises: partition_date, symbol (NULL last, by code point), ts (NULL first),
    then the order they were landed in (the same order as the SQL landing table and DuckDB give)."""
    keys = pa.table(
        {
            "day": table.column("partition_date"),
            "symbol": table.column("symbol"),
            "ts_known": pc.is_valid(table.column("ts")),  # False sorts first: a NULL ts leads its symbol
            "ts": table.column("ts"),
            "landed": pa.array(np.arange(table.num_rows, dtype=np.int64)),
        }
    )
    # NULLs sort last by default (only the symbol can be NULL here); no per-key placement before pyarrow 25.
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names])
    return table.take(order)


def landed(table: pa.Table) -> pa.Table:
    """``table`` (RAW_ARROW_SCHEMA, value columns possibly numbers) as its day batches read back: conformed,
    in landing order."""
    return in_landing_order(conform(table))


def days_of(ordered: pa.Table) -> Iterator[tuple[dt.date, pa.Table]]:
    """Each partition day of ``ordered`` (``landed``) as a slice of it, no copy."""
    if not ordered.num_rows:
        return
    days = ordered.column("partition_date").cast(pa.int32()).to_numpy()
    starts = np.concatenate(([0], np.flatnonzero(np.diff(days)) + 1, [len(days)]))
    for first, stop in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        part = ordered.slice(first, stop - first)
        yield part.column("partition_date")[0].as_py(), part


def encode(rows: pa.Table) -> bytes:
    """One day's rows as a zstd-compressed Arrow IPC stream (the schema travels with the rows)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema, options=_WRITE_OPTIONS) as writer:
        writer.write_table(rows)
    return sink.getvalue().to_pybytes()


def encode_days(days: Sequence[pa.Table]) -> list[bytes]:
    """``encode`` of each of ``days``, in their order, two at a time: the caller holds one chunk's days
    already, so memory grows by their compressed bytes only."""
    if len(days) < 2:
        return [encode(rows) for rows in days]
    with ThreadPoolExecutor(_ENCODE_WORKERS, thread_name_prefix="raw-encode") as pool:
        return list(pool.map(encode, days))


def decode(batches: Iterable[bytes]) -> pa.Table:
    """The rows of ``batches`` (from ``encode``), in the order given, as one table (``concat``)."""
    return concat([pa.ipc.open_stream(batch).read_all() for batch in batches])


def conform(table: pa.Table) -> pa.Table:
    """``table`` in RAW_ARROW_SCHEMA's columns and types, except value columns holding numbers, which stay."""
    fields = [
        table.schema.field(f.name) if f.name in VALUE_COLUMNS and table.schema.field(f.name).type in _NUMBERS else f
        for f in RAW_ARROW_SCHEMA
    ]
    return table.select(RAW_ARROW_SCHEMA.names).cast(pa.schema(fields))


def concat(tables: list[pa.Table]) -> pa.Table:
    """Landed tables as one: a value column stays numbers when every table holds it as the same numbers, and is
    text otherwise (days landed as text, or numbers of different kinds: the numbers become their text)."""
    tables = [conform(t) for t in tables]
    if not tables:
        return RAW_ARROW_SCHEMA.empty_table()
    mixed = [name for name in VALUE_COLUMNS if len({t.schema.field(name).type for t in tables}) > 1]
    return pa.concat_tables([_as_text(t, mixed) for t in tables] if mixed else tables)


def _as_text(table: pa.Table, names: list[str]) -> pa.Table:
    text = raw_values_as_text(table.select(names))
    for name in names:
        table = table.set_column(table.schema.get_field_index(name), name, text.column(name))
    return table
