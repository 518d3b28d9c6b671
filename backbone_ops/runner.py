"""Runs the code location's jobs in the Dagster instance, so CLI runs show in the UI beside scheduled ones."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
from dagster._core.utils import make_new_run_id
from psycopg.conninfo import conninfo_to_dict

from backbone_assets import instance_tuning
from backbone_assets.definitions import build_defs
from backbone_assets.jobs import ASSET_CHECKS_JOB, DAILY_BARS_JOB, kind_tags
from backbone_assets.partitions import daily_partitions, last_partition_date, range_tags
from backbone_domain.quarantined_files import refusal
from backbone_ops import interrupts, orphans
from backbone_ops.exit_codes import UsageError
from backbone_ops.resources import all_resources
from backbone_resources.settings import BackboneSettings, SettingsError
from backbone_resources.unavailable import SourceUnreadable

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
# The institutional instance: dagster-postgres, batched event writes, the deployment's queue and limits.
POSTGRES_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "docker" / "dagster" / "dagster.yaml"
# The console logger at INFO: step events and the assets' own log lines, not Dagster's DEBUG chatter.
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def instance(settings: BackboneSettings) -> dg.DagsterInstance:
    """The persistent instance at $DAGSTER_HOME. Unset: with BACKBONE_DAGSTER_PG_URL, a dagster-postgres instance
    in that database ($BACKBONE_HOME/dagster-pg holds its dagster.yaml, never the password); otherwise SQLite
    under $BACKBONE_HOME/dagster with the project's dagster.yaml."""
    if not os.environ.get("DAGSTER_HOME"):
        postgres = settings.dagster_pg_url is not None
        home = (settings.home / ("dagster-pg" if postgres else "dagster")).resolve()
        home.mkdir(parents=True, exist_ok=True)
        if postgres:
            shutil.copyfile(POSTGRES_DAGSTER_YAML, home / "dagster.yaml")  # always the current template
            os.environ.update(dagster_pg_env(settings.require("dagster_pg_url")))
        elif PROJECT_DAGSTER_YAML.exists() and not (home / "dagster.yaml").exists():
            shutil.copyfile(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    instance_tuning.enable()
    return dg.DagsterInstance.get()


def dagster_pg_env(url: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables the institutional dagster.yaml reads, from one PostgreSQL URL."""
    parts = conninfo_to_dict(url)
    if not parts.get("dbname"):
        raise SettingsError("BACKBONE_DAGSTER_PG_URL names no database (postgresql://user:pass@host:5432/dagster)")
    return {
        "DAGSTER_PG_HOST": str(parts.get("host") or "127.0.0.1"),
        "DAGSTER_PG_PORT": str(parts.get("port") or 5432),
        "DAGSTER_PG_USER": str(parts.get("user") or "postgres"),
        "DAGSTER_PG_PASSWORD": str(parts.get("password") or ""),
        "DAGSTER_PG_DB": str(parts["dbname"]),
    }


def resolve_range(settings: BackboneSettings, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """Default: the newest partition only. Errors name the bound that was crossed."""
    last = last_partition_date(daily_partitions(settings.start_date, settings.today))
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
    settings: BackboneSettings,
    start: dt.date,
    end: dt.date,
    select: Sequence[str] = (),
    asset_config: Mapping[str, Mapping[str, object]] | None = None,
) -> dg.ExecuteInProcessResult:
    """One run over the whole range (a single-run backfill), checks included. ``asset_config``: run config per
    asset name (e.g. ``ExportConfig`` of the export assets)."""
    defs = build_defs(settings)
    job = defs.resolve_job_def(DAILY_BARS_JOB)
    keys = [dg.AssetKey(name) for name in select] or None
    known = {key for key in defs.resolve_asset_graph().get_all_asset_keys()}
    unknown = [key.to_user_string() for key in keys or [] if key not in known]
    if unknown:
        raise UsageError(
            f"unknown asset(s): {', '.join(unknown)}; known: {', '.join(sorted(k.path[-1] for k in known))}"
        )
    if any(defs.resolve_asset_graph().get(key).group_name == "batch" for key in keys or known):
        defs.resources["batch"].warm_up()  # type: ignore[index, union-attr]
    run_id = make_new_run_id()
    with instance(settings) as inst, interrupts.stop_promptly(inst, run_id):
        orphans.fail_orphans(inst)
        return job.execute_in_process(
            run_id=run_id,
            run_config=_run_config(asset_config),
            instance=inst,
            tags={
                **range_tags(start, end),
                **kind_tags("ingest" if start == end else "backfill"),
                **orphans.process_tags(),
            },
            asset_selection=keys,
            raise_on_error=False,
        )


def run_checks(settings: BackboneSettings) -> dg.ExecuteInProcessResult:
    defs = build_defs(settings)
    with instance(settings) as inst:
        orphans.fail_orphans(inst)
        return defs.resolve_job_def(ASSET_CHECKS_JOB).execute_in_process(
            run_config=CONSOLE_INFO,
            instance=inst,
            tags={**kind_tags("checks"), **orphans.process_tags()},
            raise_on_error=False,
        )


def preflight(settings: BackboneSettings) -> None:
    """Fail before a run starts when the tier's store is unreachable or the source cannot list its symbols
    (a missing directory): no half-started runs, no fallback. With BACKBONE_SOURCE_BAD_FILES=fail, a file the
    source would set aside whole fails it too, named in one line (each file is parsed for that)."""
    with all_resources(settings) as resources:
        resources.store.ping()
        resources.source.universe()
        bad = resources.source.quarantined_files() if settings.source_bad_files == "fail" else []
    if bad:
        raise SourceUnreadable(refusal(bad))


def _run_config(asset_config: Mapping[str, Mapping[str, object]] | None) -> dict[str, object]:
    """Console logging at INFO, and each asset's config under ``ops`` (Dagster's place for it)."""
    if not asset_config:
        return CONSOLE_INFO
    return {**CONSOLE_INFO, "ops": {name: {"config": dict(config)} for name, config in asset_config.items()}}
