"""Daily partitions: one per calendar day from BACKBONE_START_DATE; a trading calendar decides which hold bars."""

from __future__ import annotations

import datetime as dt

import dagster as dg

PARTITION_FORMAT = "%Y-%m-%d"


def daily_partitions(start_date: dt.date) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start_date.strftime(PARTITION_FORMAT), timezone="UTC")


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The inclusive date range of the run's partition(s): one day, or a whole single-run backfill."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def last_partition_date(partitions: dg.DailyPartitionsDefinition) -> dt.date:
    """The newest complete day (partitions end yesterday: today's bar is not final yet)."""
    key = partitions.get_last_partition_key()
    if key is None:
        raise ValueError("no daily partition exists yet: BACKBONE_START_DATE is in the future")
    return dt.datetime.strptime(key, PARTITION_FORMAT).date()


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    """Run tags that make one run cover [start, end] (a single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": start.strftime(PARTITION_FORMAT),
        "dagster/asset_partition_range_end": end.strftime(PARTITION_FORMAT),
    }
