"""How backbone's processes write Dagster events: in batches, and on SQLite with WAL journaling.

Batches: a single-run backfill over N daily partitions would log one ASSET_MATERIALIZATION_PLANNED per
partition and asset when the run is created, and one ASSET_MATERIALIZATION per partition and asset when a
step ends. ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS`` makes the first one event per asset (its
documented cost: a failed range run does not mark each of its partitions failed; the run shows as failed)
and ``DAGSTER_EVENT_BATCH_SIZE`` writes the second in batches (dagster-postgres natively; on SQLite through
``sqlite_storage.BatchingSqliteStorage``). Both are defaults: a value in the environment wins.

WAL journaling with synchronous=NORMAL for the SQLite files of a local Dagster instance:

A single-run backfill writes a few Dagster events per partition and asset, each its own SQLite transaction.
With SQLite's defaults (rollback journal, synchronous=FULL) every one waits for an fsync, which on the
virtual disks we run on costs ~10 ms: a month of partitions took 35 s of pure bookkeeping. WAL with
synchronous=NORMAL is SQLite's recommended setting for this: no corruption on a crash, at worst the last
transactions lost on power failure, and readers (the UI) no longer block on writers. Measured: 35 s -> 11 s.
It applies to SQLite connections opened through SQLAlchemy in this process only; PostgreSQL is untouched.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_enabled = False
EVENT_ENV_DEFAULTS = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true", "DAGSTER_EVENT_BATCH_SIZE": "2000"}


def _tune(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def enable() -> None:
    """Idempotent; call before the instance opens its storage and before a run is created."""
    global _enabled
    for name, value in EVENT_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not _enabled:
        event.listen(Engine, "connect", _tune)
        _enabled = True
