"""`backbone consume` and `backbone replay`: the consumer bridge and Kafka replays from the command line.

``consume`` builds only the stream (and cache) resources, runs until SIGTERM / Ctrl-C (or ``--idle-timeout``)
and commits offsets after each handled batch. ``replay`` runs ``kafka_replay_job`` in the Dagster instance so the
run shows in the UI, or with ``--request`` leaves the request for ``kafka_replay_sensor``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence

import click

from backbone_domain.bar_messages import BarMessage
from backbone_domain.bridge import Bridge, CacheInvalidator
from backbone_ops import exit_codes
from backbone_ops.exit_codes import UsageError, expected_errors
from backbone_ops.resources import tier_resources
from backbone_ops.secrets import echo
from backbone_resources.settings import load_settings
from backbone_resources.stream.base import StreamDisabled


def _print_bars(bars: Sequence[BarMessage]) -> None:
    for bar in bars:
        click.echo(
            json.dumps({"symbol": bar.symbol, "ts": bar.ts.isoformat(), "close": bar.close, "origin": bar.origin})
        )


@click.command()
@click.option("--group", required=True, help="consumer group id (offsets are committed under it)")
@click.option("--handler", type=click.Choice(["cache", "print"]), default="cache", show_default=True)
@click.option("--idle-timeout", type=float, default=None, help="stop after this many seconds without messages")
def consume(group: str, handler: str, idle_timeout: float | None) -> None:
    """Hand each new bar from the stream to a handler (default: keep the hot cache current) until SIGTERM."""
    families = ("stream", "cache") if handler == "cache" else ("stream",)
    try:
        with expected_errors(), tier_resources(load_settings(), *families) as res:
            if not res.stream.enabled:
                raise StreamDisabled("streaming disabled (BACKBONE_STREAMING_ENABLED=false): nothing to consume")
            fn = CacheInvalidator(res.cache) if handler == "cache" else _print_bars
            click.echo(f"consuming {res.stream.describe()['topic']} as group {group} (SIGTERM stops cleanly)", err=True)
            report = Bridge(res.stream, group, fn).run(idle_timeout_s=idle_timeout)
    except KeyboardInterrupt:
        sys.exit(exit_codes.INTERRUPTED)
    click.echo(
        f"received {report.received}, handled {report.handled}, skipped {report.skipped} duplicate/out-of-date, "
        f"{report.commits} commits",
        err=True,
    )


@click.command()
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="first trading date")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="last trading date")
@click.option("--symbols", default="", help="comma list (default: every stored symbol)")
@click.option("--request", is_flag=True, help="leave the request for kafka_replay_sensor instead of running now")
def replay(start: dt.datetime, end: dt.datetime, symbols: str, request: bool) -> None:
    """Republish stored bars of a date range to the stream with origin=replay, in per-symbol order."""
    from backbone_assets.definitions import build_defs
    from backbone_assets.stream import KAFKA_REPLAY_JOB
    from backbone_assets.stream_sensors import request_replay
    from backbone_ops import runner

    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    first, last = start.date(), end.date()
    with expected_errors():
        if first > last:
            raise UsageError(f"--start {first} is after --end {last}")
        settings = load_settings()
        with runner.instance(settings) as inst:
            if request:
                request_replay(inst, first, last, names)
                click.echo(f"replay of {first}..{last} requested; kafka_replay_sensor starts it on its next tick")
                return
            config = {"ops": {"replay_bars": {"config": {"start": str(first), "end": str(last), "symbols": names}}}}
            job = build_defs(settings).resolve_job_def(KAFKA_REPLAY_JOB)
            result = job.execute_in_process(
                run_config={**runner.CONSOLE_INFO, **config}, instance=inst, raise_on_error=False
            )
    if not result.success:
        for failure in result.get_step_failure_events():
            echo(f"replay failed: {failure.event_specific_data.error.message}", settings, err=True)  # type: ignore[union-attr]
        sys.exit(exit_codes.PROBLEM)
    click.echo(f"run {result.run_id}: replayed {result.output_for_node('replay_bars')} bars of {first}..{last}")
