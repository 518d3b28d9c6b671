"""Partitions at the grain of each layer's data (docs/architecture.md, "Partitions").

The store's layers (``daily_bars_raw``, ``daily_bars``) are partitioned by calendar day from
BACKBONE_START_DATE, UTC: a bar belongs to one trading day, so the UI's partition bar answers "which dates are
stored?" and a day can be re-run alone. Every other layer holds data at another grain (weekly aggregates,
each symbol's newest bars in the cache, the topic, year-partitioned Parquet) and is unpartitioned: it depends
on every daily partition (an explicit ``AllPartitionMapping``), shows as stale in the UI when a newer day
lands, and costs one event per run instead of one per day. Such a layer works on the days its run rewrote
upstream: ``upstream_dates``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import dagster as dg

PARTITION_FORMAT = "%Y-%m-%d"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
STORE_ASSET = "daily_bars"
# Unpartitioned layers read every daily partition of the store; written out so the mapping is explicit.
ON_EVERY_STORED_DAY = dg.AllPartitionMapping()


def daily_partitions(start_date: dt.date, today: dt.date | None = None) -> dg.DailyPartitionsDefinition:
    """Daily partitions from ``start_date`` through yesterday. ``today`` (BACKBONE_TODAY) pins "today" instead
    of the clock: the one seam through which the CLI, the checks, the schedules and status learn the date."""
    end = {"end_date": today.strftime(PARTITION_FORMAT)} if today is not None else {}
    return dg.DailyPartitionsDefinition(start_date=start_date.strftime(PARTITION_FORMAT), timezone="UTC", **end)


def on_store(asset: str = STORE_ASSET) -> dg.AssetDep:
    """The dependency of an unpartitioned layer on a daily store asset: every day of it."""
    return dg.AssetDep(asset, partition_mapping=ON_EVERY_STORED_DAY)


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The inclusive date range of the run's partition(s): one day, or a whole single-run backfill."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def upstream_dates(
    context: dg.AssetExecutionContext, partitions: dg.DailyPartitionsDefinition
) -> tuple[dt.date, dt.date]:
    """The days an unpartitioned layer brings up to date in this run.

    In the daily job the run carries the store's partition or range (a single-run backfill, the daily
    schedule): those days. A run of the layer alone (the UI's "Materialize", an asset backfill that runs
    the layer after its upstream) spans every day the store materialized since this layer last did, read
    from the instance; with none newer, the newest complete day.
    """
    span = run_days(context.run.tags) or _store_days_since(context.instance, context.asset_key)
    if span is not None:
        return span
    last = last_partition_date(partitions)
    return last, last


def run_days(tags: Mapping[str, str]) -> tuple[dt.date, dt.date] | None:
    """The days a run of the store's partitions covers, from its tags (a range, or one partition); None for a
    run without partitions."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return _day(tags[RANGE_START_TAG]), _day(tags[RANGE_END_TAG])
    if PARTITION_TAG in tags:
        return _day(tags[PARTITION_TAG]), _day(tags[PARTITION_TAG])
    return None


def _store_days_since(instance: dg.DagsterInstance, layer: dg.AssetKey) -> tuple[dt.date, dt.date] | None:
    """The span of the store's partitions materialized after ``layer``'s latest materialization."""
    mine = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=layer), limit=1).records
    cursor = mine[0].storage_id if mine else None
    days: list[dt.date] = []
    while True:
        store = dg.AssetRecordsFilter(asset_key=dg.AssetKey(STORE_ASSET), after_storage_id=cursor)
        records = instance.fetch_materializations(store, limit=10_000, ascending=True)
        days += [_day(r.partition_key) for r in records.records if r.partition_key]
        if not records.has_more:
            break
        cursor = records.records[-1].storage_id
    return (min(days), max(days)) if days else None


def _day(key: str) -> dt.date:
    return dt.datetime.strptime(key, PARTITION_FORMAT).date()


def last_partition_date(partitions: dg.DailyPartitionsDefinition) -> dt.date:
    """The newest complete day (partitions end yesterday: today's bar is not final yet)."""
    key = partitions.get_last_partition_key()
    if key is None:
        raise ValueError("no daily partition exists yet: BACKBONE_START_DATE is in the future")
    return _day(key)


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    """Run tags that make one run cover [start, end] (a single-run backfill)."""
    return {RANGE_START_TAG: start.strftime(PARTITION_FORMAT), RANGE_END_TAG: end.strftime(PARTITION_FORMAT)}


def range_result(
    context: dg.AssetExecutionContext, metadata: dict[str, object], asset_key: dg.AssetKey | None = None
) -> dg.MaterializeResult:
    """A daily asset's result whose run-wide ``metadata`` goes on the newest partition of the run only.

    Dagster copies a result's metadata onto the event of every partition a run covers, and serializing an event
    costs with its metadata (~0.7 ms with a store layer's figures, ~0.15 ms with none, docs/benchmarks.md): a
    10-year run of two daily layers wrote 7,300 copies of the same totals, a fifth of its time. The figures are
    the run's, not any one day's, so they are written once, on the range's last day: that event is stored last,
    so it is the one the asset's page, ``backbone status`` and the instance's latest materialization show.
    Every other day's event still says which run stored it (the run carries the range in its tags).
    ``asset_key``: which asset of a multi-asset step the result is for.
    """
    keys = context.partition_key_range
    if keys.start == keys.end:
        return dg.MaterializeResult(asset_key=asset_key, metadata=metadata)
    context.add_asset_metadata(metadata, asset_key=asset_key, partition_key=keys.end)
    return dg.MaterializeResult(asset_key=asset_key)
