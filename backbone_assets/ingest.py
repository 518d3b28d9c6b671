"""Ingest layer: what the source returned, landed as-is so validation can be re-run without re-fetching."""

from collections.abc import Mapping

import dagster as dg

from backbone_assets.partitions import partition_dates
from backbone_domain.pipeline import land_raw
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore

OWNERS = ["team:market-data"]


def build_ingest_assets(
    partitions: dg.PartitionsDefinition, kinds: Mapping[str, set[str]]
) -> list[dg.AssetsDefinition]:
    """``kinds``: the tier's technology per resource family (``tiers.layer_kinds``); raw rows land in the store."""

    @dg.asset(
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingest",
        kinds={"pandas", *kinds["store"]},
        owners=OWNERS,
        pool="store",
        retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    )
    def daily_bars_raw(
        context: dg.AssetExecutionContext, source: BarSource, store: BarStore, policy: PipelinePolicy
    ) -> dg.MaterializeResult:
        """Raw daily OHLCV rows exactly as the source returned them (landing table raw_bars)."""
        start, end = partition_dates(context)
        context.log.info(f"tier {policy.tier} ({policy.tier_reason}); fetching {start}..{end} from {source.name}")
        report = land_raw(source, store, start, end, policy.chunk_days)
        return dg.MaterializeResult(
            metadata={
                "rows_fetched": report.rows,
                "symbols": len(report.per_symbol),
                "rows_per_symbol": dict(sorted(report.per_symbol.items())),
                "date_range": f"{start}..{end}",
                "chunks": report.chunks,
                "source": source.name,
                **policy.tier_metadata(),
            }
        )

    return [daily_bars_raw]
