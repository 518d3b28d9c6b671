"""`backbone consume` and `backbone replay`: the consumer bridge and Kafka replays from the command line.

``consume`` builds only the stream (and cache) resources, runs until SIGTERM / Ctrl-C (or ``--idle-timeout``)
and commits offsets after each handled batch. ``replay`` runs ``kafka_replay_job`` in the Dagster instance so the
run shows in the UI, or with ``--request`` leaves the request for ``kafka_replay_sensor``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
import dagster as dg

from backbone_domain.bar_messages import BarMessage
from backbone_domain.bridge import Bridge, CacheInvalidator
from backbone_resources.settings import SettingsError, load_settings
from backbone_resources.store.base import StoreUnavailable
from backbone_resources.stream.base import StreamDisabled, StreamUnavailable
from backbone_resources.tiers import build_stream

EXPECTED_ERRORS = (SettingsError, StoreUnavailable, StreamUnavailable, StreamDisabled)


@contextmanager
def _resources(**resources: Any) -> Iterator[Any]:
    try:
        with dg.build_resources(resources) as built:
            yield built
    except dg.DagsterUserCodeExecutionError as exc:
        if exc.user_exception is not None:
            raise exc.user_exception from None
        raise


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
    try:
        settings = load_settings()
        extra: dict[str, Any] = {}
        if handler == "cache":
            from backbone_resources.tiers import build_cache

            extra["cache"] = build_cache(settings)
        with _resources(stream=build_stream(settings), **extra) as res:
            if not res.stream.enabled:
                raise StreamDisabled("streaming disabled (BACKBONE_STREAMING_ENABLED=false): nothing to consume")
            fn = CacheInvalidator(res.cache) if handler == "cache" else _print_bars
            click.echo(f"consuming {res.stream.describe()['topic']} as group {group} (SIGTERM stops cleanly)", err=True)
            report = Bridge(res.stream, group, fn).run(idle_timeout_s=idle_timeout)
    except EXPECTED_ERRORS as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
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
    from backbone_assets import runner
    from backbone_assets.definitions import build_defs
    from backbone_assets.stream import KAFKA_REPLAY_JOB
    from backbone_assets.stream_sensors import request_replay

    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    first, last = start.date(), end.date()
    if first > last:
        click.echo(f"error: --start {first} is after --end {last}", err=True)
        sys.exit(2)
    try:
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
    except EXPECTED_ERRORS as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not result.success:
        for failure in result.get_step_failure_events():
            click.echo(f"replay failed: {failure.event_specific_data.error.message}", err=True)  # type: ignore[union-attr]
        sys.exit(1)
    click.echo(f"run {result.run_id}: replayed {result.output_for_node('replay_bars')} bars of {first}..{last}")
