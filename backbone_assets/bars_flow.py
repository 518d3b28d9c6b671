"""The daily bars' flow: ``daily_bars_raw`` (the landing) and ``daily_bars`` (validated bars), one step.

Two assets, each with its own daily partitions, checks and page in the UI, built by one subsettable op
(``@multi_asset(can_subset=True)``). A run that selects both (a backfill, the daily schedule, ``backbone
materialize``) lands, validates and stores each chunk in one pass (``pipeline.ingest``): what was landed is
validated as it stands, instead of being read back and decoded once the whole range has landed, and the server
writes one chunk while the next is landed (docs/architecture.md, "One step for the landing and the bars").
A run that selects one runs that layer alone, as two assets would: ``daily_bars`` alone validates what is
already landed, without fetching it again.
"""

from collections.abc import Iterator, Mapping

import dagster as dg

from backbone_assets.ingest import OWNERS, landing_metadata, outage_retry, quarantine
from backbone_assets.partitions import partition_dates, range_result
from backbone_assets.storage import stored_metadata
from backbone_domain.pipeline import LandingReport, StoreReport, ingest, land_raw, validate_and_store
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource, SourceUnreadable
from backbone_resources.store.base import BarStore

RAW = dg.AssetKey("daily_bars_raw")
BARS = dg.AssetKey("daily_bars")


def build_bars_flow(
    partitions: dg.DailyPartitionsDefinition, kinds: Mapping[str, set[str]], retry_delay_s: float = 10.0
) -> dg.AssetsDefinition:
    """``retry_delay_s``: the first wait before a retry after a store or source outage (``outage_retry``): each
    chunk is one transaction per table, so a retry re-runs whole chunks and writes the same rows again."""

    @dg.multi_asset(
        name="daily_bars_flow",
        specs=[
            dg.AssetSpec(
                RAW,
                description="Raw daily OHLCV rows exactly as the source returned them (the store's landing).",
                group_name="ingest",
                kinds={"pandas", *kinds["store"]},
                owners=OWNERS,
            ),
            dg.AssetSpec(
                BARS,
                description="Validated daily bars, one row per (symbol, ts), upserted; bad rows quarantined in "
                "rejected_bars.",
                # The same day upstream: written out, as every mapping between layers is (docs/architecture.md).
                deps=[dg.AssetDep(RAW, partition_mapping=dg.IdentityPartitionMapping())],
                group_name="storage",
                kinds=kinds["store"],
                owners=OWNERS,
            ),
        ],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        pool="store",
        retry_policy=outage_retry(retry_delay_s),
    )
    def daily_bars_flow(
        context: dg.AssetExecutionContext, source: BarSource, store: BarStore, policy: PipelinePolicy
    ) -> Iterator[dg.MaterializeResult]:
        selected = context.selected_asset_keys
        start, end = partition_dates(context)
        days = policy.days_per_chunk(len(source.universe()))
        progress = {"progress": context.log.info, "progress_every_s": policy.progress_every_s}
        validation = {
            "first_day": partitions.start.date(),
            "vanished": "retire" if policy.vanished_rows == "retire" else "keep",
            "run_id": context.run_id,  # recorded with each stamp (bar_loads): `backbone history` names the run
        }
        landed: LandingReport | None = None
        stored: StoreReport | None = None
        if RAW in selected:
            context.log.info(f"tier {policy.tier} ({policy.tier_reason}); fetching {start}..{end} from {source.name}")
        try:
            quarantined = quarantine(context, source, store, policy) if RAW in selected else []
            if RAW in selected and BARS in selected:
                landed, stored = ingest(source, store, start, end, days, **progress, **validation)
            elif RAW in selected:
                landed = land_raw(source, store, start, end, days, **progress)
        except SourceUnreadable as exc:  # the same answer on every attempt: fail now, naming the file
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        if BARS in selected and stored is None:
            stored = validate_and_store(store, start, end, days, **progress, **validation, source=source.name)
        if landed is not None:
            metadata = landing_metadata(landed, start, end, days, source, quarantined, policy)
            yield range_result(context, metadata, RAW)
        if stored is not None:
            yield range_result(context, stored_metadata(context, stored, start, end, store, policy), BARS)

    return daily_bars_flow
