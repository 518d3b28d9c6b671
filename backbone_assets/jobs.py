"""Jobs: the partitioned daily-bars flow, and a checks-only job (Dagster 1.13 has no `dagster asset check`).

Every run says what kind of work it is in the ``backbone/kind`` tag: the instance's run queue limits backfills
and replays by it (dagster.yaml), and the run-failure telemetry reports it.
"""

from __future__ import annotations

from typing import Literal

import dagster as dg

DAILY_BARS_JOB = "daily_bars_job"
ASSET_CHECKS_JOB = "asset_checks_job"
KIND_TAG = "backbone/kind"
Kind = Literal["ingest", "backfill", "replay", "checks"]


def kind_tags(kind: Kind) -> dict[str, str]:
    """The run tag naming the kind of work (a tag, so the run queue can limit it)."""
    return {KIND_TAG: kind}


def build_jobs(
    partitions: dg.PartitionsDefinition, executor: Literal["in_process", "multiprocess"] = "in_process"
) -> list[dg.UnresolvedAssetJobDefinition]:
    """Both jobs. The daily job's runs execute their steps as ``BACKBONE_RUN_EXECUTOR`` says unless a run's own
    config chooses (Dagster's default executor takes either; this is only the job's default run config). The
    checks job keeps Dagster's default: a default run config there would be checked against every run's subset
    of checks, and its steps are small reads anyway."""
    default = {"execution": {"config": {executor: {}}}}
    return [
        dg.define_asset_job(
            DAILY_BARS_JOB,
            selection=dg.AssetSelection.groups("ingest", "storage", "batch", "cache", "stream"),
            partitions_def=partitions,
            description="Source -> raw landing -> validated store -> weekly bars, for a partition or a range.",
            config=default,
        ),
        dg.define_asset_job(
            ASSET_CHECKS_JOB,
            selection=dg.AssetSelection.all_asset_checks(),
            description="Every asset check against what is stored now, without materializing anything.",
            tags=kind_tags("checks"),
        ),
    ]
