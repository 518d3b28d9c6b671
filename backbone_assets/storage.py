"""Storage layer: the weekly bars derived in the store from the validated daily bars, and what a run of
``daily_bars`` (built with ``daily_bars_raw`` in ``bars_flow``) shows."""

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from backbone_assets.changes import changes_metadata, layer_changes
from backbone_assets.ingest import OWNERS
from backbone_assets.partitions import on_store, upstream_dates
from backbone_domain.changes import week_spans
from backbone_domain.pipeline import StoreReport
from backbone_resources.policy import PipelinePolicy
from backbone_resources.store.base import BarStore

# weekly_bars rows are keyed by the Monday of their week, which may fall before the range's first day.
_WEEK = dt.timedelta(days=6)


def build_storage_assets(
    partitions: dg.DailyPartitionsDefinition, kinds: Mapping[str, set[str]]
) -> list[dg.AssetsDefinition]:
    """The layers derived in the store from ``daily_bars`` (itself built in ``bars_flow``)."""
    storage_layer = {
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "group_name": "storage",
        "kinds": kinds["store"],
        "owners": OWNERS,
        "pool": "store",
    }

    @dg.asset(deps=[on_store()], **storage_layer)  # weekly grain: unpartitioned
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

    return [weekly_bars]


def stored_metadata(
    context: dg.AssetExecutionContext,
    report: StoreReport,
    start: dt.date,
    end: dt.date,
    store: BarStore,
    policy: PipelinePolicy,
) -> dict[str, object]:
    """What a run of ``daily_bars`` shows, after the run's retention of versions; warns of rejected rows and of
    stored bars the source no longer gives."""
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
    return {
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
    }


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
