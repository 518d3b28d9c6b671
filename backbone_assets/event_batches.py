"""What both instance storages share to write a buffer of asset events as one statement.

Dagster buffers ASSET_MATERIALIZATION and ASSET_OBSERVATION events when ``DAGSTER_EVENT_BATCH_SIZE`` is set
(``instance_tuning``). Its SQL storage then builds one ``INSERT ... VALUES`` holding every row of the buffer,
which SQLAlchemy compiles anew for each buffer (nothing to cache: the statement's text grows with its rows):
~1 s of a 7,300-event run (docs/benchmarks.md). Passing the rows as parameters instead uses one compiled
statement, cached, which SQLAlchemy sends in pages (``insertmanyvalues``) with the ids in the rows' order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DagsterEventType
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.event_api import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from sqlalchemy.engine import Connection

# The event types Dagster buffers for batch writes (dagster-postgres batches exactly these).
BATCHED_TYPES = frozenset({DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION})


def batchable(events: Sequence[EventLogEntry]) -> bool:
    """Only asset events of one run take the one-statement path; anything else goes Dagster's own way."""
    kinds_ok = all(e.dagster_event is not None and e.dagster_event_type in BATCHED_TYPES for e in events)
    return bool(events) and kinds_ok and len({e.run_id for e in events}) == 1


def insert_returning_ids(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert the event rows (``_event_to_row``) as one executemany; their ids, in the rows' order."""
    statement = SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True)
    event_ids = [row[0] for row in conn.execute(statement, list(rows))]
    if len(event_ids) != len(rows) or any(event_id is None for event_id in event_ids):
        raise DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
    return event_ids


def last_per_asset(events: Sequence[EventLogEntry], event_ids: Sequence[int]) -> Mapping[Any, tuple]:
    """The asset table keeps each asset's latest event: the last one of the batch per asset key."""
    latest: dict[Any, tuple] = {}
    for event, event_id in zip(events, event_ids, strict=True):
        latest[event.get_dagster_event().asset_key] = (event, event_id)
    return latest
