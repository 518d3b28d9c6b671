"""The one module that assembles backbone's Definitions from settings.

Loaded lazily (``@dg.definitions``) so the environment is read when a code location loads, not at import;
tests call ``build_defs`` with their own settings.
"""

from __future__ import annotations

import dagster as dg

from backbone_assets import instance_tuning
from backbone_assets.bars_flow import build_bars_flow
from backbone_assets.batch import build_batch_assets, build_batch_checks
from backbone_assets.cache import build_cache_assets, build_cache_checks
from backbone_assets.checks import build_daily_bars_checks
from backbone_assets.health_sensor import build_health_sensor
from backbone_assets.ingest import build_ingest_checks
from backbone_assets.intraday_checks import build_intraday_checks
from backbone_assets.jobs import build_jobs
from backbone_assets.partitions import daily_partitions
from backbone_assets.schedules import build_schedules
from backbone_assets.sensors import build_run_failure_sensor, run_failures_path
from backbone_assets.storage import build_storage_assets
from backbone_assets.stream import build_stream_assets, build_stream_checks, kafka_replay_job
from backbone_assets.stream_sensors import kafka_replay_sensor
from backbone_resources.settings import BackboneSettings, load_settings
from backbone_resources.tiers import build_resources, layer_kinds


def build_pipeline_defs(settings: BackboneSettings) -> dg.Definitions:
    """Assets, checks, jobs, schedules and the replay sensor: what runs the data flow."""
    partitions = daily_partitions(settings.start_date, settings.today)
    jobs = build_jobs(partitions, settings.run_executor)
    resources = build_resources(settings)
    kinds = layer_kinds(resources)  # the UI names the technology each built backend declares
    return dg.Definitions(
        assets=[
            build_bars_flow(partitions, kinds, settings.store_retry_delay_s),
            *build_storage_assets(partitions, kinds),
            *build_cache_assets(partitions, kinds, settings.cache.policy.retry_delay_s),
            *build_batch_assets(partitions, kinds),
            *build_stream_assets(partitions, kinds, settings.stream.policy.retry_delay_s),
        ],
        asset_checks=[
            *build_ingest_checks(),
            *build_daily_bars_checks(partitions),
            *build_intraday_checks(settings.stream.intraday.check_tolerance),
            *build_cache_checks(),
            *build_batch_checks(),
            *build_stream_checks(),
        ],
        jobs=[*jobs, kafka_replay_job],
        schedules=build_schedules(jobs[0], partitions, settings.schedules),
        sensors=[kafka_replay_sensor],
        resources=resources,
    )


def build_watcher_defs(settings: BackboneSettings) -> dg.Definitions:
    """The instance-wide watchers: run-failure telemetry (every code location's runs) and health events. They
    own no asset, so they can live in a code location of their own (backbone_assets/locations/)."""
    return dg.Definitions(
        sensors=[build_run_failure_sensor(run_failures_path(settings.home)), build_health_sensor(settings)],
    )


def build_defs(settings: BackboneSettings) -> dg.Definitions:
    """Everything in one code location (``dagster dev``, the compose stack, the CLI's in-process runs)."""
    return dg.Definitions.merge(build_pipeline_defs(settings), build_watcher_defs(settings))


@dg.definitions
def defs() -> dg.Definitions:
    instance_tuning.enable()  # run workers load this too: their event writes get the same settings
    return build_defs(load_settings())
