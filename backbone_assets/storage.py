"""Storage layer: validated bars in the time-series store, and the weekly bars derived from them."""

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from backbone_assets.changes import changes_metadata, layer_changes
from backbone_assets.ingest import OWNERS, outage_retry
from backbone_assets.partitions import on_store, partition_dates, range_result, upstream_dates
from backbone_domain.changes import week_spans
from backbone_domain.pipeline import validate_and_store
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore

# weekly_bars rows are keyed by the Monday of their week, which may fall before the range's first day.
_WEEK = dt.timedelta(days=6)


def build_storage_assets(
    partitions: dg.DailyPartitionsDefinition, kinds: Mapping[str, set[str]], retry_delay_s: float = 10.0
) -> list[dg.AssetsDefinition]:
    storage_layer = {
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "group_name": "storage",
        "kinds": kinds["store"],
        "owners": OWNERS,
        "pool": "store",
    }
    storage_asset = {"partitions_def": partitions, **storage_layer}

    # The same day upstream: written out, as every mapping between layers is (docs/architecture.md).
    # A store outage (StoreUnavailable: a restart, a pool timeout) is retried as daily_bars_raw's is: each chunk
    # is one transaction, so a retry re-runs whole chunks and writes the same rows again (idempotent).
    @dg.asset(
        deps=[dg.AssetDep("daily_bars_raw", partition_mapping=dg.IdentityPartitionMapping())],
        retry_policy=outage_retry(retry_delay_s),
        **storage_asset,
    )
    def daily_bars(
        context: dg.AssetExecutionContext, source: BarSource, store: BarStore, policy: PipelinePolicy
    ) -> dg.MaterializeResult:
        """Validated daily bars, one row per (symbol, ts), upserted; bad rows quarantined in rejected_bars."""
        start, end = partition_dates(context)
        days = policy.days_per_chunk(len(source.universe()))
        vanished = "retire" if policy.vanished_rows == "retire" else "keep"
        first_day = partitions.start.date()
        report = validate_and_store(
            store,
            start,
            end,
            days,
            None,
            context.log.info,
            policy.progress_every_s,
            first_day,
            vanished,
            run_id=context.run_id,  # recorded with each stamp (bar_loads): `backbone history` names the run
            source=source.name,
        )
        pruned = _prune_versions(store, policy)
        if report.kept_over_source or report.retired:
            context.log.warning(
                f"the source no longer says what the store holds for {report.kept_over_source} bar(s), still "
                f"served, and {report.retired} retired: `backbone rejected --start {start} --end {end}` lists them"
            )
        if report.rejected:
            context.log.warning(
                f"{report.rejected} of {report.total} rows rejected in {start}..{end}: {dict(report.reasons)}"
            )
        return range_result(
            context,
            {
                "rows_accepted": report.accepted,
                "rows_changed": report.changed,
                "rows_rejected": report.rejected,
                "stored_values_kept_over_source": report.kept_over_source,
                "stored_bars_retired": report.retired,
                "rejected_rate": round(report.rejected_rate, 6),
                "reject_reasons": dict(report.reasons.most_common(20)),
                "date_range": f"{start}..{end}",
                "chunks": report.chunks,
                **pruned,
                "store": store.describe(),
                **policy.tier_metadata(),
            },
        )

    @dg.asset(deps=[on_store(daily_bars.key.path[-1])], **storage_layer)  # weekly grain: unpartitioned
    def weekly_bars(context: dg.AssetExecutionContext, store: BarStore, policy: PipelinePolicy) -> dg.MaterializeResult:
        """Weekly OHLCV per symbol and ISO week (a continuous aggregate on TimescaleDB, a view elsewhere); only
        the weeks holding a bar changed since the last refresh are refreshed."""
        start, end = upstream_dates(context, partitions)
        changes = layer_changes(context, store)
        weeks = [(start, end)] if changes.first_run else week_spans(changes.keys)
        for first, last in weeks:
            store.refresh_weekly(first, last)
        weekly = store.read_weekly(start - _WEEK, end)
        return dg.MaterializeResult(
            metadata={
                "weeks_refreshed": [f"{first}..{last}" for first, last in weeks],
                **changes_metadata(changes),
                "weeks_in_range": len(weekly),
                "symbols": int(weekly["symbol"].nunique()),
                "date_range": f"{start}..{end}",
                "store": store.describe(),
                **policy.tier_metadata(),
            }
        )

    return [daily_bars, weekly_bars]


def _prune_versions(store: BarStore, policy: PipelinePolicy) -> dict[str, object]:
    """Retention of versions, once per run after the chunks' writes (not inside each chunk's transaction: the
    write path stays as it was, and one DELETE a run is enough for a horizon measured in days)."""
    horizon = policy.version_horizon(dt.datetime.now(dt.UTC))
    if horizon is None:
        return {}
    pruned = store.prune_versions(horizon)
    return {
        "versions_pruned": pruned.versions,
        "loads_pruned": pruned.loads,
        "versions_kept_from": horizon.isoformat(timespec="seconds"),
    }
