"""Schedules: yesterday's partition every morning, after the US close has settled."""

from __future__ import annotations

import dagster as dg


def build_schedules(daily_job: dg.UnresolvedAssetJobDefinition) -> list[dg.ScheduleDefinition]:
    return [
        dg.build_schedule_from_partitioned_job(daily_job, name="daily_bars_schedule", hour_of_day=6, minute_of_hour=0)
    ]
