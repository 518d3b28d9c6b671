"""The PostgreSQL store's raw landing: a compressed Arrow batch per partition day in ``raw_batches``
(``raw_batches`` module: why), with the rows of ``raw_bars`` (landed before the batches existed) still read.

Writes go through one binary COPY of the day batches; reads are one query returning a value per day, plus the
old table's rows for the same days, which is an index lookup that finds nothing once every day has been landed
again. A day lives in one table or the other: ``replace`` empties both for its span before it writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from psycopg import Cursor

from backbone_resources.store import postgres_copy as pgcopy
from backbone_resources.store import raw_batches
from backbone_resources.store.postgres_locks import lock_partitions
from backbone_resources.store.postgres_sql import Statements

# A few days per COPY block: each is a whole day's batch, so a block stays far from Arrow's 2 GiB per array.
_DAYS_PER_BLOCK = 64


def replace(cur: Cursor[Any], statements: Statements, start: dt.date, end: dt.date, rows: pa.Table) -> pa.Table:
    """Make ``rows`` (``frames.raw_table``, partitions already checked) the landing of [start, end], inside the
    caller's transaction: every day of the span loses what it held in either table, each day with rows gets
    one batch, and a day without rows none. Overlapping replacements wait for each other (``postgres_locks``).

    Returns what ``read`` of the span gives once this commits: the day batches in day order, each day's rows in
    landing order (the span holds nothing else: both tables were emptied for it)."""
    lock_partitions(cur, f"{statements.schema}.raw_batches", start, end)  # one lock for both landing tables
    cur.execute(statements.delete_partitions(statements.raw), (start, end))
    cur.execute(statements.delete_partitions(statements.raw_batches), (start, end))
    ordered = raw_batches.landed(rows)
    split = list(raw_batches.days_of(ordered))  # one chunk's days: slices of ``ordered``, no copy
    days = [day for day, _ in split]
    counts = [part.num_rows for _, part in split]
    batches = raw_batches.encode_days([part for _, part in split])
    if days:
        table = pa.table(
            {
                "partition_date": pa.array(days, pa.date32()),
                "row_count": pa.array(counts, pa.int64()),
                "batch": pa.array(batches, pa.binary()),
            }
        )
        pgcopy.copy_in(cur, statements.raw_batches, table, rows_per_block=_DAYS_PER_BLOCK)
    return ordered


def read(cur: Cursor[Any], statements: Statements, start: dt.date, end: dt.date) -> pa.Table:
    """The landed rows of [start, end] (``raw_batches.RAW_ARROW_SCHEMA``, value columns possibly numbers:
    ``raw_batches.concat``) in ``in_landing_order``."""
    # binary: bytea comes back as the bytes, not as hex text to decode
    found = cur.execute(statements.read_raw_batches(), (start, end), binary=True).fetchall()
    landed = raw_batches.decode(batch for (batch,) in found)
    older = pgcopy.copy_out(cur, statements.read_raw(), (start, end), pgcopy.RAW_TYPES)
    if not older.num_rows:
        return landed
    older = pgcopy.epoch_to_utc(older, ["ts"]).cast(raw_batches.RAW_ARROW_SCHEMA)
    return raw_batches.in_landing_order(raw_batches.concat([landed, older]))
