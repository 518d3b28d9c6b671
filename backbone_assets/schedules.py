"""Schedules: the newest complete day after the close, and a weekly re-run of the last N days as one run.

Partitions are UTC days and the newest one is the last day that has *ended* in UTC. At the default 20:30
America/New_York it is already 00:30 (summer) / 01:30 (winter) UTC of the next day, so the daily run takes the
session that closed that afternoon. A time before 20:00 EDT / 19:00 EST would take the day before: the partition
is always chosen from the tick's scheduled time, never from the wall clock, so a late tick takes the same day.

The weekly backfill re-materializes the newest ``BACKBONE_BACKFILL_PARTITIONS`` days in a single run (range run
tags, every asset has ``BackfillPolicy.single_run()``) to pick up vendors' late corrections.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from backbone_assets.jobs import kind_tags
from backbone_assets.partitions import PARTITION_FORMAT, range_tags
from backbone_resources.schedule_settings import ScheduleSettings

DAILY_SCHEDULE = "daily_ingest_schedule"
BACKFILL_SCHEDULE = "weekly_backfill_schedule"


def newest_complete_day(partitions: dg.DailyPartitionsDefinition, at: dt.datetime) -> dt.date | None:
    """The last partition that exists at ``at`` (None before the first one ends)."""
    with dg.partition_loading_context(effective_dt=at):
        key = partitions.get_last_partition_key()
    return None if key is None else dt.datetime.strptime(key, PARTITION_FORMAT).date()


def backfill_window(partitions: dg.DailyPartitionsDefinition, at: dt.datetime, days: int) -> tuple[dt.date, dt.date]:
    """The newest ``days`` partitions at ``at``, clipped to the first partition; raises when none exists."""
    end = newest_complete_day(partitions, at)
    if end is None:
        raise ValueError(f"no complete partition at {at.isoformat()}")
    first = partitions.start.date()
    return max(first, end - dt.timedelta(days=days - 1)), end


def _tick_time(context: dg.ScheduleEvaluationContext) -> dt.datetime:
    return context.scheduled_execution_time or dt.datetime.now(dt.UTC)


def build_schedules(
    daily_job: dg.UnresolvedAssetJobDefinition,
    partitions: dg.DailyPartitionsDefinition,
    settings: ScheduleSettings,
) -> list[dg.ScheduleDefinition]:
    """Both schedules; RUNNING by default only with ``BACKBONE_SCHEDULES_ENABLED=true``."""
    status = dg.DefaultScheduleStatus.RUNNING if settings.schedules_enabled else dg.DefaultScheduleStatus.STOPPED
    at = settings.daily_time()
    zone = settings.schedule_timezone
    days = settings.backfill_partitions

    @dg.schedule(
        name=DAILY_SCHEDULE,
        job=daily_job,
        cron_schedule=f"{at.minute} {at.hour} * * *",
        execution_timezone=zone,
        default_status=status,
        description=f"The newest complete UTC day, every day at {settings.daily_schedule_time} {zone}.",
    )
    def daily_ingest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        day = newest_complete_day(partitions, _tick_time(context))
        if day is None:
            return dg.SkipReason("no complete partition yet: BACKBONE_START_DATE is in the future")
        key = day.strftime(PARTITION_FORMAT)
        return dg.RunRequest(run_key=f"ingest:{key}", partition_key=key, tags=kind_tags("ingest"))

    @dg.schedule(
        name=BACKFILL_SCHEDULE,
        job=daily_job,
        cron_schedule=settings.backfill_cron,
        execution_timezone=zone,
        default_status=status,
        description=f"The newest {days} days again, as one run, on '{settings.backfill_cron}' ({zone}).",
    )
    def weekly_backfill_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        try:
            start, end = backfill_window(partitions, _tick_time(context), days)
        except ValueError as exc:
            return dg.SkipReason(str(exc))
        return dg.RunRequest(
            run_key=f"backfill:{start}..{end}", tags={**range_tags(start, end), **kind_tags("backfill")}
        )

    return [daily_ingest_schedule, weekly_backfill_schedule]
