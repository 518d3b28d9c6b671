"""Locks that serialize the PostgreSQL store's partition replacements: the raw landing and the rejected rows.

Why: a replacement deletes a span of partitions and COPYs its rows under READ COMMITTED. Two overlapping
replacements in flight at once each delete only what was committed before they looked, so both copies
survived (issue 13, D5: 84 landed rows for 64 keys, then spurious duplicates in validation). With the lock
taken first in the transaction, the second waits until the first commits, and its DELETE (a new snapshot
under READ COMMITTED) then sees, and removes, the first one's rows: exactly one copy, the later one's.

How: ``pg_advisory_xact_lock(table key, month)`` for every calendar month the span touches, in ascending
order, held until the transaction ends. Months rather than days: each advisory lock takes a slot of the
server's shared lock table (``max_locks_per_transaction`` x connections, 6,400 by default), and a ten-year
backfill chunk would take 3,650 day locks and two of them in parallel could exhaust it; by month it takes
120. The price is that two spans in the same month that do not overlap also wait for each other, briefly.
Ascending order is what keeps it deadlock-free: every transaction takes its locks in the same order before it
touches any row, so none can hold a later month while waiting for an earlier one. Transaction-scoped locks
are released by commit or rollback, so a failed or killed writer never leaves one behind.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from psycopg import Cursor

_LOCK = "SELECT pg_advisory_xact_lock(%s, month) FROM unnest(%s::int[]) WITH ORDINALITY AS m(month, at) ORDER BY at"


def table_key(qualified_name: str) -> int:
    """A stable int4 for a schema-qualified table (the advisory lock's first key); crc32, not Python's hash,
    which differs between processes."""
    return int.from_bytes(zlib.crc32(qualified_name.encode()).to_bytes(4, "big"), "big", signed=True)


def months(start: dt.date, end: dt.date) -> list[int]:
    """The months [start, end] touches as year * 12 + month - 1, ascending; none when start is after end."""
    first, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    return list(range(first, last + 1))


def lock_partitions(cur: Cursor[Any], qualified_name: str, start: dt.date, end: dt.date) -> None:
    """Wait for, then hold until the transaction ends, the locks of ``qualified_name``'s partitions [start, end].

    Must run inside the caller's transaction, before it reads or writes the partitions.
    """
    spans = months(start, end)
    if spans:
        cur.execute(_LOCK, (table_key(qualified_name), spans))
