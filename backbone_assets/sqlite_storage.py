"""The bootstrap instance's storage: Dagster's SQLite storage, with batched event writes.

A single-run backfill over N daily partitions records one ASSET_MATERIALIZATION per partition and asset.
Dagster buffers them when ``DAGSTER_EVENT_BATCH_SIZE`` is set, but only dagster-postgres writes a buffer in
one go; SQLite's storage falls back to one write per event, and each opens a new engine, connection and
transaction on two database files (the run's shard and the cross-run index). This storage writes a buffer
the way dagster-postgres does: every event in one transaction on the run's shard, their asset rows and tags
in one transaction on the index, and the asset's latest-materialization row once, from the last event.

The files and their layout are Dagster's own (``$DAGSTER_HOME/history``, ``schedules``), so an instance made
with the default storage keeps its history, and the UI, daemon and CLI read it unchanged. Configured in
``dagster.yaml`` under ``storage: custom``. The per-event cost is in docs/benchmarks.md.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from dagster._core.event_api import EventLogEntry
from dagster._core.instance.ref import _event_logs_directory, _runs_directory, _schedule_directory
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData

from backbone_assets.check_plans import OneRowPerCheckPlan
from backbone_assets.event_batches import batchable, insert_returning_ids, last_per_asset


class BatchingSqliteEventLogStorage(OneRowPerCheckPlan, SqliteEventLogStorage):
    """SQLite event log whose ``store_event_batch`` is one transaction per database file, not one per event,
    and which plans a check evaluation in one row (``check_plans``)."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not batchable(events):
            super().store_event_batch(events)  # anything unusual: Dagster's own path, one event at a time
            return
        rows = [self._event_to_row(event) for event in events]  # serialized once, written twice
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            event_ids = insert_returning_ids(conn, rows)
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in last_per_asset(events, event_ids).values():
                self._store_asset_event(conn, event, event_id)


@contextmanager
def _schema_lock(base_dir: str) -> Iterator[None]:
    """One process at a time creates or checks the SQLite schemas. Two first runs on a fresh $DAGSTER_HOME (two
    `backbone materialize`, or the UI and a CLI run) otherwise both create Dagster's tables and stamp
    ``alembic_version``: one fails with a UNIQUE violation and the table can be left with two heads, which
    breaks every later start (issue 13 D9). Opening existing databases takes the lock for milliseconds."""
    Path(base_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(base_dir) / ".schema.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        yield


class BatchingSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (same files under ``base_dir``) with the batching event log above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # Dagster's own constructor, with the event log swapped: building the default one first would open
        # and migrate the index database twice.
        self.base_dir = base_dir
        with _schema_lock(base_dir):
            self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
            self._event_log_storage = BatchingSqliteEventLogStorage(_event_logs_directory(base_dir))
            self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Any) -> BatchingSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)  # Dagster's names its own class here

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return ConfigurableClassData(
            __name__,
            BatchingSqliteEventLogStorage.__name__,
            yaml.dump({"base_dir": _event_logs_directory(self.base_dir)}),
        )
