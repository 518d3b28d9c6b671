"""Jobs: the partitioned daily-bars flow, and a checks-only job (Dagster 1.13 has no `dagster asset check`)."""

from __future__ import annotations

import dagster as dg

DAILY_BARS_JOB = "daily_bars_job"
ASSET_CHECKS_JOB = "asset_checks_job"


def build_jobs(partitions: dg.PartitionsDefinition) -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        dg.define_asset_job(
            DAILY_BARS_JOB,
            selection=dg.AssetSelection.groups("ingest", "storage", "batch", "cache", "stream"),
            partitions_def=partitions,
            description="Source -> raw landing -> validated store -> weekly bars, for a partition or a range.",
        ),
        dg.define_asset_job(
            ASSET_CHECKS_JOB,
            selection=dg.AssetSelection.all_asset_checks(),
            description="Every asset check against what is stored now, without materializing anything.",
        ),
    ]
