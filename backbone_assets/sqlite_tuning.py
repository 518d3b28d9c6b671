"""WAL journaling with synchronous=NORMAL for the SQLite files of a local Dagster instance.

A single-run backfill writes a few Dagster events per partition and asset, each its own SQLite transaction.
With SQLite's defaults (rollback journal, synchronous=FULL) every one waits for an fsync, which on the
virtual disks we run on costs ~10 ms: a month of partitions took 35 s of pure bookkeeping. WAL with
synchronous=NORMAL is SQLite's recommended setting for this: no corruption on a crash, at worst the last
transactions lost on power failure, and readers (the UI) no longer block on writers. Measured: 35 s -> 11 s.
It applies to SQLite connections opened through SQLAlchemy in this process only; PostgreSQL is untouched.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_enabled = False


def _tune(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def enable() -> None:
    """Idempotent; call before the instance opens its storage."""
    global _enabled
    if not _enabled:
        event.listen(Engine, "connect", _tune)
        _enabled = True
