"""Runs the code location's jobs in the Dagster instance, so CLI runs show in the UI beside scheduled ones."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from backbone_assets import sqlite_tuning
from backbone_assets.definitions import build_defs
from backbone_assets.jobs import ASSET_CHECKS_JOB, DAILY_BARS_JOB, kind_tags
from backbone_assets.partitions import daily_partitions, last_partition_date, range_tags
from backbone_resources.settings import BackboneSettings

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
# The console logger at INFO: step events and the assets' own log lines, not Dagster's DEBUG chatter.
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


class UsageError(ValueError):
    """A command-line request that cannot run as asked (bad range, unknown asset)."""


def instance(settings: BackboneSettings) -> dg.DagsterInstance:
    """The persistent instance at $DAGSTER_HOME; unset, $BACKBONE_HOME/dagster with the project's dagster.yaml."""
    if not os.environ.get("DAGSTER_HOME"):
        home = (settings.home / "dagster").resolve()
        home.mkdir(parents=True, exist_ok=True)
        if PROJECT_DAGSTER_YAML.exists() and not (home / "dagster.yaml").exists():
            shutil.copyfile(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    sqlite_tuning.enable()
    return dg.DagsterInstance.get()


def resolve_range(settings: BackboneSettings, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """Default: the newest partition only. Errors name the bound that was crossed."""
    last = last_partition_date(daily_partitions(settings.start_date))
    end = end or last
    start = start or end
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    if start < settings.start_date:
        raise UsageError(f"--start {start} is before the first partition {settings.start_date} (BACKBONE_START_DATE)")
    if end > last:
        raise UsageError(f"--end {end} is after the newest complete day {last} (today's bars are not final)")
    return start, end


def materialize(
    settings: BackboneSettings, start: dt.date, end: dt.date, select: Sequence[str] = ()
) -> dg.ExecuteInProcessResult:
    """One run over the whole range (a single-run backfill), checks included."""
    defs = build_defs(settings)
    job = defs.resolve_job_def(DAILY_BARS_JOB)
    keys = [dg.AssetKey(name) for name in select] or None
    known = {key for key in defs.resolve_asset_graph().get_all_asset_keys()}
    unknown = [key.to_user_string() for key in keys or [] if key not in known]
    if unknown:
        raise UsageError(
            f"unknown asset(s): {', '.join(unknown)}; known: {', '.join(sorted(k.path[-1] for k in known))}"
        )
    with instance(settings) as inst:
        return job.execute_in_process(
            run_config=CONSOLE_INFO,
            instance=inst,
            tags={**range_tags(start, end), **kind_tags("ingest" if start == end else "backfill")},
            asset_selection=keys,
            raise_on_error=False,
        )


def run_checks(settings: BackboneSettings) -> dg.ExecuteInProcessResult:
    defs = build_defs(settings)
    with instance(settings) as inst:
        return defs.resolve_job_def(ASSET_CHECKS_JOB).execute_in_process(
            run_config=CONSOLE_INFO, instance=inst, tags=kind_tags("checks"), raise_on_error=False
        )


@contextmanager
def live_resources(settings: BackboneSettings) -> Iterator[Any]:
    """The tier's resources, initialised as a run would (env vars resolved, pools opened and closed).

    Dagster wraps a resource's start-up error; the original (e.g. StoreUnavailable naming the setting) is
    re-raised so the CLI can print one clear line.
    """
    defs = build_defs(settings)
    try:
        with dg.build_resources(dict(defs.resources or {})) as resources:
            yield resources
    except dg.DagsterUserCodeExecutionError as exc:
        if exc.user_exception is not None:
            raise exc.user_exception from None
        raise


def preflight(settings: BackboneSettings) -> None:
    """Fail before a run starts when the tier's store is unreachable: no half-started runs, no fallback."""
    with live_resources(settings) as resources:
        resources.store.ping()
