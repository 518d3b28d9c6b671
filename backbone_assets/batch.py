"""Batch layer: the stored bars as a Parquet dataset, daily returns from it, their checks, and the
retention audit. The assets see the ``BatchEngine`` interface only: Spark on the institutional tier, DuckDB
on bootstrap, the same graph on both."""

import datetime as dt
from collections.abc import Mapping

import dagster as dg
import pandas as pd
from pydantic import Field

from backbone_assets.changes import carried_watermark, changes_metadata, layer_changes, store_identity
from backbone_assets.ingest import OWNERS
from backbone_assets.partitions import last_partition_date, on_store, upstream_dates
from backbone_domain.version_audit import LayerVersions, layer_versions
from backbone_resources.batch.base import COVERAGE_COLUMNS, BatchEngine, Dataset
from backbone_resources.batch.exports import (
    ExportReport,
    compare_with_store,
    export_bars,
    export_changed_bars,
    export_changed_returns,
    export_returns,
    retention_table,
)
from backbone_resources.batch.staging import store_coverage
from backbone_resources.cache.base import HotCache
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore, VersionCounts

AUDIT_GROUP = "audit"


def build_batch_assets(
    partitions: dg.DailyPartitionsDefinition, kinds: Mapping[str, set[str]]
) -> list[dg.AssetsDefinition]:
    """The export assets, and the retention audit over the store and the exports."""
    export_asset = {  # Parquet partitioned by symbol/year on disk: the assets themselves are unpartitioned
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "group_name": "batch",
        "kinds": kinds["batch"],
        "owners": OWNERS,
        "pool": "batch",
    }

    @dg.asset(deps=[on_store()], **export_asset)
    def daily_bars_parquet(
        context: dg.AssetExecutionContext,
        config: ExportConfig,
        store: BarStore,
        source: BarSource,
        batch: BatchEngine,
        policy: PipelinePolicy,
    ) -> dg.MaterializeResult:
        """Stored bars as Parquet, Hive-partitioned by symbol/year: only the partitions holding a bar changed
        since the last export are rewritten (the first export: every year of the range). With ``as_of``: the
        range's years as known then, into their own directory (docs/versions.md)."""
        start, end = upstream_dates(context, partitions)
        days = policy.days_per_chunk(len(source.universe()))
        moment = config.moment()
        if moment is not None:
            target = config.engine(batch, moment)
            report = export_bars(store, target, start, end, days, moment)
            return _exported(report, "daily_bars", start, end, target, policy, _as_of(context, store, moment))
        changes = layer_changes(context, store)
        if changes.first_run:
            report = export_bars(store, batch, start, end, days)
        else:
            report = export_changed_bars(store, batch, changes)
        return _exported(report, "daily_bars", start, end, batch, policy, changes_metadata(changes))

    @dg.asset(deps=[daily_bars_parquet], **export_asset)
    def daily_returns(
        context: dg.AssetExecutionContext,
        config: ExportConfig,
        store: BarStore,
        batch: BatchEngine,
        policy: PipelinePolicy,
    ) -> dg.MaterializeResult:
        """Daily log returns and 20-day annualised realized volatility per symbol, as Parquet: recomputed for
        the (symbol, year)s a change reaches (the first time: every year of the range)."""
        start, end = upstream_dates(context, partitions)
        moment = config.moment()
        if moment is not None:
            target = config.engine(batch, moment)
            report = export_returns(target, start, end)
            return _exported(report, "daily_returns", start, end, target, policy, _as_of(context, store, moment))
        changes = layer_changes(context, store)
        report = export_returns(batch, start, end) if changes.first_run else export_changed_returns(batch, changes)
        return _exported(report, "daily_returns", start, end, batch, policy, changes_metadata(changes))

    @dg.asset(
        deps=[daily_bars_parquet, daily_returns],
        required_resource_keys={"store", "source", "batch", "policy", "cache"},
        group_name=AUDIT_GROUP,
        backfill_policy=dg.BackfillPolicy.single_run(),  # unpartitioned: one run whatever is asked
        kinds=kinds["batch"],
        owners=OWNERS,
        pool="batch",
    )
    def retention_audit(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """What each holder keeps per symbol (first/last date, rows), the versions the store keeps, and any layer
        holding a bar version the store no longer has."""
        resources = context.resources
        first = partitions.start.date()
        holdings = {
            "store": store_coverage(
                resources.store,
                first,
                last_partition_date(partitions),
                resources.policy.days_per_chunk(len(resources.source.universe())),
            ),
            "export:daily_bars": resources.batch.coverage("daily_bars"),
            "export:daily_returns": resources.batch.coverage("daily_returns"),
        }
        table = retention_table(holdings)
        layers = [_cache_versions(resources.store, resources.cache), _export_versions(resources.store, resources.batch)]
        for layer in layers:
            if not layer.consistent:
                context.log.warning(
                    f"{layer.layer} holds {layer.unknown} bar version(s) the store no longer has "
                    f"(neither current nor kept), e.g. {', '.join(layer.examples)}"
                )
        return dg.MaterializeResult(
            metadata={
                "retention": dg.MetadataValue.md(_markdown(table)),
                "symbols": int(table["symbol"].nunique()),
                "holders": sorted(holdings),
                **_store_versions(resources.store.version_counts()),
                "versions_per_layer": dg.MetadataValue.md(_layer_markdown(layers)),
                "layers_with_unknown_versions": [layer.layer for layer in layers if not layer.consistent],
            }
        )

    return [daily_bars_parquet, daily_returns, retention_audit]


class ExportConfig(dg.Config):
    """Run config of the export assets (``daily_bars_parquet``, ``daily_returns``)."""

    as_of: str | None = Field(
        None,
        description="ISO-8601 moment with its offset, e.g. 2024-03-12T08:00:00Z: export every (symbol, year) of "
        "the run's years as the store knew them then, into as_of_dir; the current export is left alone. An export "
        "made at T and one made later with as_of=T hold the same bytes.",
    )
    as_of_dir: str | None = Field(None, description="where an as_of export goes; unset = <export_dir>/as_of/<moment>")

    def moment(self) -> dt.datetime | None:
        if self.as_of is None:
            return None
        moment = dt.datetime.fromisoformat(self.as_of)
        if moment.tzinfo is None:
            raise dg.Failure(f"as_of {self.as_of!r} has no offset: say which moment, e.g. {self.as_of}Z")
        return moment.astimezone(dt.UTC)

    def engine(self, batch: BatchEngine, moment: dt.datetime) -> BatchEngine:
        """The engine writing under the as_of directory (no ':' in it: Hadoop paths refuse one)."""
        root = self.as_of_dir or f"{batch.export_dir.rstrip('/')}/as_of/{moment.strftime('%Y%m%dT%H%M%S%fZ')}"
        return batch.model_copy(update={"export_dir": root})


def _as_of(context: dg.AssetExecutionContext, store: BarStore, moment: dt.datetime) -> dict[str, object]:
    """An as_of export changes nothing the layer keeps current: the watermark it had is carried over."""
    carried = carried_watermark(context.instance, context.asset_key, store_identity(store))
    return {"as_of": moment.isoformat(), **carried}


def _exported(
    report: ExportReport,
    dataset: Dataset,
    start: dt.date,
    end: dt.date,
    batch: BatchEngine,
    policy: PipelinePolicy,
    extra: dict[str, object],
) -> dg.MaterializeResult:
    """What an export asset records: rows, the years and partitions it rewrote, the range, where the files are,
    the engine, and the changes it worked on."""
    partitions = "every symbol of the years" if report.partitions is None else len(report.partitions)
    return dg.MaterializeResult(
        metadata={
            **extra,
            "rows_written": report.written,
            "partitions_rewritten": partitions,
            "years_rewritten": f"{report.years[0]}..{report.years[1]}" if report.years else "none",
            "date_range": f"{start}..{end}",
            "path": batch.dataset_path(dataset),
            "engine": batch.describe(),
            **policy.tier_metadata(),
        }
    )


def build_batch_checks() -> list[dg.AssetChecksDefinition]:
    """Checks that measure the datasets through the engine, year by year, against the store."""

    @dg.asset_check(
        asset="daily_bars_parquet", pool="batch", blocking=True, description="Rows per exported year = store's."
    )
    def daily_bars_parquet_matches_store(store: BarStore, batch: BatchEngine) -> dg.AssetCheckResult:
        comparison = compare_with_store(store, batch.profile("daily_bars"))
        return _year_result(comparison.found, comparison.expected, comparison.mismatched)

    @dg.asset_check(
        asset="daily_bars_parquet", pool="batch", blocking=True, description="Exactly one row per (symbol, ts)."
    )
    def daily_bars_parquet_unique_keys(batch: BatchEngine) -> dg.AssetCheckResult:
        profile = batch.profile("daily_bars")
        return _unique(profile.duplicate_keys, profile.rows)

    @dg.asset_check(asset="daily_returns", pool="batch", description="One return per exported bar, per year.")
    def daily_returns_matches_bars(batch: BatchEngine) -> dg.AssetCheckResult:
        bars, returns = batch.profile("daily_bars"), batch.profile("daily_returns")
        expected = {y: bars.rows_by_year.get(y, 0) for y in returns.rows_by_year}
        mismatched = {y: (n, expected[y]) for y, n in returns.rows_by_year.items() if n != expected[y]}
        return _year_result(returns.rows_by_year, expected, mismatched)

    @dg.asset_check(asset="daily_returns", pool="batch", blocking=True, description="Exactly one row per (symbol, ts).")
    def daily_returns_unique_keys(batch: BatchEngine) -> dg.AssetCheckResult:
        profile = batch.profile("daily_returns")
        return _unique(profile.duplicate_keys, profile.rows)

    return [
        daily_bars_parquet_matches_store,
        daily_bars_parquet_unique_keys,
        daily_returns_matches_bars,
        daily_returns_unique_keys,
    ]


def _year_result(
    found: dict[int, int], expected: dict[int, int], mismatched: dict[int, tuple[int, int]]
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not mismatched,
        description=f"years off (found, expected): {mismatched}" if mismatched else "every exported year matches",
        metadata={
            "export_rows": sum(found.values()),
            "expected_rows": sum(expected.values()),
            "years_checked": len(found),
            "years_mismatched": len(mismatched),
            "threshold_mismatched": 0,
        },
    )


def _unique(duplicates: int, rows: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=duplicates == 0, metadata={"duplicate_keys": duplicates, "threshold": 0, "rows": rows}
    )


def _markdown(table: pd.DataFrame, limit: int = 200) -> str:
    """The audit as a markdown table (first ``limit`` rows; the count says when there are more)."""
    lines = ["| holder | " + " | ".join(COVERAGE_COLUMNS) + " |", "|---" * (len(COVERAGE_COLUMNS) + 1) + "|"]
    for row in table.head(limit).itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    if len(table) > limit:
        lines.append(f"\n{len(table) - limit} more rows")
    return "\n".join(lines)


def _store_versions(counts: VersionCounts) -> dict[str, object]:
    """The store's side of the version audit: what as-of reads can still answer."""
    oldest = counts.oldest_superseded_at
    return {
        "store_current_bars": counts.current,
        "store_superseded_versions": counts.superseded,
        "store_oldest_superseded_at": "none kept" if oldest is None else oldest.isoformat(),
    }


def _cache_versions(store: BarStore, cache: HotCache) -> LayerVersions:
    """The hot cache's versions against the store's. The cache interface lists each symbol's newest cached bar
    (``latest_cached``: no read counted, no LRU touch), so that is what is checked."""
    return _against_store("cache", cache.latest_cached(), store)


def _export_versions(store: BarStore, batch: BatchEngine) -> LayerVersions:
    """Every bar version of the ``daily_bars`` export against the store's (the returns derive from it)."""
    return _against_store("export:daily_bars", batch.exported_versions(), store)


def _against_store(layer: str, held: pd.DataFrame, store: BarStore) -> LayerVersions:
    """``held`` (symbol, ts, ingested_at) against the versions the store keeps over the same days and symbols."""
    if held.empty:
        return layer_versions(layer, held, held)
    days = held["ts"].dt.tz_convert("UTC").dt.date
    known = store.version_keys(days.min(), days.max(), sorted(held["symbol"].unique()))
    return layer_versions(layer, held, known)


def _layer_markdown(layers: list[LayerVersions]) -> str:
    lines = ["| layer | versions checked | unknown to the store | e.g. |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {x.layer} | {x.held} | {x.unknown} | {'; '.join(x.examples)} |" for x in layers]
    return "\n".join(lines)
