"""How the PostgreSQL store writes accepted bars inside a chunk's transaction: a fresh range by COPY straight
into ``daily_bars``, anything else through a staging table; never row by row (``INSERT … ON CONFLICT`` updated
each row in place with a speculative index insertion, at less than half the rate of a plain COPY).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from backbone_resources.store import postgres_copy as pgcopy
from backbone_resources.store.postgres_locks import lock_partitions
from backbone_resources.store.postgres_sql import Statements


def write_bars(
    cur: psycopg.Cursor[Any], statements: Statements, bars: pa.Table, *, direct: bool, columnstore: bool = False
) -> int:
    """Bars whose keys cannot exist yet (a fresh range: a backfill, a new day) are COPYed straight into
    ``daily_bars`` at the server's COPY rate. Otherwise (a re-run, a correction) they are COPYed into a
    staging table private to this transaction; the stored bars they change are deleted and every staged
    bar whose key is then absent is inserted: two set-based statements, and a bar whose values are
    unchanged (or whose stored version is newer) is not touched, so it keeps its version. ``columnstore``
    (a TimescaleDB hypertable with compression): the changed keys are found first, so that only the
    compressed batches holding them are decompressed. ``direct`` is False once a concurrent writer beat the
    probe. Returns the bars inserted (new or changed).

    Concurrent writers of the same keys: one still inserting makes the INSERT wait for it and then fail
    with a unique violation, and the chunk is written again (``write_validated``); one that committed
    between the DELETE and the INSERT keeps its bar even when this one is newer (the next run of the
    range corrects it). Writers of one partition are serialized by Dagster in practice.

    The bars go in key order (symbol, then ts): each symbol's run then extends the primary key's B-tree where
    that symbol's last bar ended, instead of every row landing on another leaf page. Validation hands them over
    day by day (the landing's order); by day, 1.26M bars cost the server 5.4 s of CPU, by key 2.7-2.9 s
    (docs/benchmarks.md). The heap is then clustered by symbol within a chunk, which per-symbol reads like too.
    """
    bars = bars.sort_by(_KEY_ORDER)
    low, high = pc.min_max(bars["ts"]).values()
    box = (pc.unique(bars["symbol"]).to_pylist(), _utc(low.as_py()), _utc(high.as_py()))
    if direct and low.is_valid and not cur.execute(statements.any_stored(), box).fetchone()[0]:  # type: ignore[index]
        pgcopy.copy_in(cur, statements.daily, bars)
        return bars.num_rows
    # A unique name: behind a pooler, temp tables can outlive the transaction's client session.
    stage = sql.Identifier(f"stage_bars_{uuid.uuid4().hex}")
    cur.execute(statements.create_stage(stage))
    pgcopy.copy_in(cur, stage, bars)
    cur.execute(sql.SQL("ANALYZE {}").format(stage))  # a temp table has no statistics: plan the join on real ones
    if columnstore:
        # The changed keys first (a read), then one DELETE naming them as constants: a correction that lands in
        # compressed chunks moves out of the columnstore only batches of the changed symbols holding a changed
        # day, and a re-run that changes nothing moves none (``Statements.delete_changed_keys``).
        changed = cur.execute(statements.changed_keys(stage), box).fetchall()
        if changed:
            cur.executemany(statements.delete_changed_keys(), [_named_keys(keys) for keys in _by_symbol(changed)])
    else:
        cur.execute(statements.delete_replaced(stage), box)
    cur.execute(statements.insert_absent(stage))
    return cur.rowcount


_KEY_ORDER = [("symbol", "ascending"), ("ts", "ascending")]


def replace_rejected(
    cur: psycopg.Cursor[Any], statements: Statements, start: dt.date, end: dt.date, refused: list[tuple[object, ...]]
) -> None:
    """Make ``refused`` (``postgres_copy.rejected_rows``) the rejected rows of partitions [start, end], inside
    the caller's transaction; overlapping replacements wait for each other (``postgres_locks``)."""
    lock_partitions(cur, f"{statements.schema}.rejected_bars", start, end)
    cur.execute(statements.delete_partitions(statements.rejected), (start, end))
    if refused:
        with cur.copy(statements.copy_rejected()) as copy:
            for row in refused:  # few rows: write_row is fine here
                copy.write_row(row)


# Up to this many symbols changed in one write, their keys are deleted a symbol at a time: the constants are then
# exact to the (symbol, day) pair (a batch of A holding only the day of B's correction stays compressed). Past it,
# one statement: most of those symbols' batches hold a changed day anyway, and a statement each costs more.
_SYMBOL_AT_A_TIME_UP_TO = 16


def _by_symbol(changed: list[tuple[str, dt.datetime, dt.datetime]]) -> list[list[tuple[str, dt.datetime, dt.datetime]]]:
    """``changed_keys``' rows as one group a symbol when few symbols changed, else as one group."""
    groups: dict[str, list[tuple[str, dt.datetime, dt.datetime]]] = {}
    for key in changed:
        groups.setdefault(key[0], []).append(key)
    return list(groups.values()) if len(groups) <= _SYMBOL_AT_A_TIME_UP_TO else [changed]


def _named_keys(changed: list[tuple[str, dt.datetime, dt.datetime]]) -> dict[str, object]:
    """``delete_replaced``'s parameters from ``changed_keys``' rows."""
    symbols, days, superseded = (list(column) for column in zip(*changed, strict=True))
    return {
        "keys_symbol": symbols,
        "keys_ts": days,
        "keys_superseded_at": superseded,
        "symbols": sorted(set(symbols)),
        "days": sorted(set(days)),
        "first": min(days),
        "last": max(days),
    }


def _utc(naive: dt.datetime | None) -> dt.datetime | None:
    return None if naive is None else naive.replace(tzinfo=dt.UTC)
