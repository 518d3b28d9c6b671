"""`backbone materialize`, `check`, `doctor` and `rejected`: runs in the Dagster instance and what they stored."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from typing import Any

import click
import dagster as dg
import pandas as pd

from backbone_domain.quarantined_files import describe_quarantine
from backbone_ops import exit_codes, interrupts, runner
from backbone_ops.exit_codes import expected_errors
from backbone_ops.resources import all_resources, tier_resources
from backbone_ops.secrets import echo
from backbone_resources.probe import Probe
from backbone_resources.settings import BackboneSettings, load_settings


@click.command()
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="first trading date (default: newest day)")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="last trading date (default: newest day)")
@click.option("--select", default="", help="comma list of asset names (default: the whole daily flow)")
def materialize(start: dt.datetime | None, end: dt.datetime | None, select: str) -> None:
    """Materialize the daily flow over a date range, as one run, with its checks."""
    try:
        with expected_errors():
            settings = load_settings()
            first, last = runner.resolve_range(settings, start and start.date(), end and end.date())
            names = [s.strip() for s in select.split(",") if s.strip()]
            tier = settings.tier()
            click.echo(f"tier: {tier.tier} ({tier.reason})")
            runner.preflight(settings)
            click.echo(f"materializing {first}..{last} in one run")
            result = runner.materialize(settings, first, last, names)
            _print_run(result, settings)
            if result.success:
                _print_summary(settings)
    except KeyboardInterrupt:  # between steps, outside Dagster's own handling
        click.echo("interrupted before the run finished; every chunk written is whole: re-run the range", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    if interrupts.interrupted(result):
        click.echo(f"interrupted: run {result.run_id} is marked failed; {interrupts.STOPPED}", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    sys.exit(exit_codes.OK if result.success else exit_codes.PROBLEM)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print the evaluations as JSON")
def check(as_json: bool) -> None:
    """Run every asset check on what is stored now; exit 1 when an ERROR-severity check fails."""
    with expected_errors():
        settings = load_settings()
        runner.preflight(settings)
        result = runner.run_checks(settings)
    evaluations = result.get_asset_check_evaluations()
    rows = [
        {
            "check": f"{e.asset_key.to_user_string()}:{e.check_name}",
            "passed": e.passed,
            "severity": e.severity.value,
            "description": e.description,
            "metadata": {k: _plain(v) for k, v in e.metadata.items()},
        }
        for e in evaluations
    ]
    if as_json:
        echo(json.dumps(rows, indent=2, default=str), settings)
    else:
        for row in rows:
            status = "PASS" if row["passed"] else f"FAIL ({row['severity']})"
            figures = {k: v for k, v in row["metadata"].items() if not isinstance(v, dict)}
            echo(f"{status:<14} {row['check']:<40} {figures}", settings)
            if row["description"] and not row["passed"]:
                echo(f"{'':<14} {row['description']}", settings)
    errors = [r for r in rows if not r["passed"] and r["severity"] == "ERROR"]
    if not result.success:
        click.echo("the checks run itself failed (a check raised); see the run in the Dagster UI", err=True)
    sys.exit(exit_codes.PROBLEM if errors or not result.success else exit_codes.OK)


@click.command()
def doctor() -> None:
    """Tier, each family's probe (reachable, version, round trip), then what each backend describes."""
    problems: list[str] = []
    with expected_errors():
        settings = load_settings()
        tier = settings.tier()
        click.echo(f"tier:    {tier.tier} ({tier.reason})")
        click.echo(f"source:  {settings.source}")
        with all_resources(settings) as resources:
            click.echo(f"symbols: {', '.join(resources.source.universe())}")
            families = ("store", "cache", "stream", "batch")
            probes = {family: getattr(resources, family).probe() for family in families}
            for family, probe in probes.items():
                echo(f"{family}.probe: {_probe_line(probe)}", settings)
                if probe.state == "unavailable":  # the store is the source of truth, but report every family
                    problems.append(f"{family}: {probe.detail}")
            for family in families:
                if probes[family].up:
                    _echo_described(family, getattr(resources, family).describe(), settings)
    if problems:
        echo(f"error: {'; '.join(problems)}", settings, err=True)
        sys.exit(exit_codes.PROBLEM)
    click.echo("ok")


def _probe_line(probe: Probe) -> str:
    version = f", {probe.version}" if probe.version else ""
    took = f", {probe.elapsed_ms:.1f} ms" if probe.elapsed_ms is not None else ""
    return f"{probe.state} {probe.backend} {probe.detail}{version}{took}"


def _echo_described(family: str, described: dict[str, Any], settings: BackboneSettings) -> None:
    for key, value in described.items():
        echo(f"{family}.{key}: {value}", settings)


@click.command()
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="first partition date")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="last partition date (default: --start)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per rejected row")
def rejected(start: dt.datetime, end: dt.datetime | None, as_json: bool) -> None:
    """Show what was set aside: every file quarantined whole (whatever the range), then the quarantined rows
    of a date range, each with the original record and why it was refused."""
    with expected_errors(), tier_resources(load_settings(), "store") as resources:
        files = resources.store.read_quarantined_files()
        frame = resources.store.read_rejected(start.date(), (end or start).date())
    for file in files.itertuples(index=False):
        rows = None if pd.isna(file.rows) else int(file.rows)
        if as_json:
            record = {"file": file.path, "source": file.source, "symbol": file.symbol, "size": int(file.size)}
            extra = {"sha256": file.sha256, "rows": rows, "first_bytes": file.first_bytes}
            click.echo(json.dumps({**record, "reasons": [file.reason], **extra, "seen_at": file.seen_at.isoformat()}))
        else:
            click.echo(f"file {file.path}  ({file.size} bytes, {'?' if rows is None else rows} rows) {file.reason}")
            click.echo(f"{'':<11}sha256 {file.sha256}; first bytes: {file.first_bytes}")
    for row in frame.itertuples(index=False):
        if as_json:
            record = {"partition_date": str(row.partition_date), "symbol": row.symbol, "source": row.source}
            click.echo(json.dumps({**record, "reasons": list(row.reasons), "payload": json.loads(row.payload)}))
        else:
            click.echo(f"{row.partition_date} {row.symbol or '?':<10} {'; '.join(row.reasons)}")
            click.echo(f"{'':<11}{row.payload}")
    if not as_json:
        click.echo(f"{len(files)} quarantined file(s), {len(frame)} rejected row(s)")


def _print_run(result: dg.ExecuteInProcessResult, settings: BackboneSettings) -> None:
    click.echo(f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    # A range run records one materialization per partition, the run's metadata on the last one
    # (partitions.range_result): show each asset once, with its figures.
    partitions: Counter[str] = Counter()
    figures_of: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization  # type: ignore[union-attr]
        name = mat.asset_key.to_user_string()
        partitions[name] += 1
        if mat.metadata or name not in figures_of:
            figures_of[name] = mat.metadata
    for name, metadata in figures_of.items():
        figures = {k: _plain(v) for k, v in metadata.items() if k != "tier_reason" and not isinstance(_plain(v), dict)}
        echo(f"  {name:<16} {partitions[name]} partition(s) {figures}", settings)
    for evaluation in result.get_asset_check_evaluations():
        status = "pass" if evaluation.passed else f"FAIL ({evaluation.severity.value})"
        click.echo(f"  check {evaluation.check_name:<28} {status}")
    for failure in result.get_step_failure_events():
        echo(f"  step {failure.step_key} failed: {_failure_text(failure)}", settings)


def _failure_text(failure: dg.DagsterEvent) -> str:
    """An asset's own ``dg.Failure`` says what to fix in its description; anything else is the error's message."""
    data = failure.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.message.strip() if data.error else "unknown error"


def _print_summary(settings: BackboneSettings) -> None:
    with all_resources(settings) as resources:
        counts = resources.store.quality_counts()
        latest = resources.store.latest_bar_dates()
        files = resources.store.read_quarantined_files()
    if len(files):
        click.echo(f"quarantined: {describe_quarantine(files)} (`backbone rejected` lists them)")
    click.echo(f"store: {counts.bars} bars, {counts.rejected} rejected rows; newest bar per symbol:")
    for symbol, day in sorted(latest.items()):
        click.echo(f"  {symbol:<10} {day}")


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)
