"""One planned row per check and run: the instance storages' answer to a Dagster 1.13 quirk.

A run over a range of daily partitions stores its time-window subset on the run, and Dagster then gives every
check's ASSET_CHECK_EVALUATION_PLANNED event that subset whatever the check's own partitioning
(``DagsterRun.get_resolved_partitions_subset_for_events`` returns the run's subset before it looks at the
check's ``partitions_def``). The event log writes one execution row per partition of it. backbone's checks
are not partitioned (each measures a whole layer: freshness, keys, the cache), so their single evaluation
(partition NULL) resolves none of those rows: a 20-year run left 7,305 rows per check PLANNED for ever, and
writing them (each with the serialized event) was a third of a 10-year run's time (docs/benchmarks.md).

The storages below record a planned evaluation as Dagster does for an unpartitioned run: one row, which the
evaluation then completes. A check that is partitioned (none in backbone) would need its subset kept.
"""

from __future__ import annotations

from dagster import DagsterEventType
from dagster._core.event_api import EventLogEntry
from dagster._record import copy as record_copy


class OneRowPerCheckPlan:
    """Mixin for a SQL event log storage (put it first among the bases)."""

    def store_asset_check_event(self, event: EventLogEntry, event_id: int | None) -> None:
        super().store_asset_check_event(unpartitioned_plan(event), event_id)  # type: ignore[misc]


def unpartitioned_plan(event: EventLogEntry) -> EventLogEntry:
    """``event`` without the run's partitions when it plans a check evaluation; any other event unchanged."""
    dagster_event = event.dagster_event
    if dagster_event is None or dagster_event.event_type != DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
        return event
    planned = dagster_event.event_specific_data
    if getattr(planned, "partitions_subset", None) is None:
        return event
    whole = dagster_event._replace(event_specific_data=record_copy(planned, partitions_subset=None))
    return event._replace(dagster_event=whole)
