"""`backbone consume` and `backbone replay`: the consumer bridge and Kafka replays from the command line.

``consume`` builds only the stream resource and what its handlers need, reads the topic its handlers follow (the
daily bars, or the intraday bars for ``intraday-store``), feeds the handlers through the event bus
until SIGTERM / Ctrl-C (or ``--idle-timeout``), and commits offsets once every required handler accepted them.
``replay`` runs ``kafka_replay_job`` in the Dagster instance so the run shows in the UI, or with ``--request``
leaves the request for ``kafka_replay_sensor``.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import anyio
import click

from backbone_domain.bridge import BridgeReport
from backbone_domain.bus import BARS_INTRADAY, BusStats, EventBus, Topic
from backbone_domain.bus.stream_feed import BusBridge
from backbone_ops import exit_codes
from backbone_ops.exit_codes import UsageError, expected_errors
from backbone_ops.handlers import LoadedHandler, load_handler
from backbone_ops.resources import tier_resources
from backbone_ops.secrets import echo
from backbone_resources.settings import BackboneSettings, load_settings
from backbone_resources.stream.base import IntradayDisabled, StreamDisabled, StreamResource


@click.command()
@click.option("--group", required=True, help="consumer group id (offsets are committed under it)")
@click.option(
    "--handler",
    "handlers",
    multiple=True,
    metavar="NAME|MODULE:CALLABLE",
    help="a required handler: a name in the backbone.handlers entry points (cache, print, ...) or "
    "package.module:callable; repeatable [default: cache]",
)
@click.option(
    "--optional-handler",
    "optional",
    multiple=True,
    metavar="NAME|MODULE:CALLABLE",
    help="a handler that never holds the bridge back: when it falls behind its oldest bars are dropped; repeatable",
)
@click.option("--idle-timeout", type=float, default=None, help="stop after this many seconds without messages")
def consume(group: str, handlers: tuple[str, ...], optional: tuple[str, ...], idle_timeout: float | None) -> None:
    """Hand each new bar from the stream to the handlers (default: keep the hot cache current) until SIGTERM;
    offsets are committed once every required handler accepted the bars before them."""
    try:
        with expected_errors():
            required = [load_handler(ref) for ref in handlers or (() if optional else ("cache",))]
            extra = [load_handler(ref) for ref in optional]
            needs = {need for h in (*required, *extra) for need in h.spec.needs}
            bus_topic = _one_topic([*required, *extra])
            settings = _on_topic(load_settings(), bus_topic)
            with tier_resources(settings, "stream", *sorted(needs)) as res:
                if not res.stream.enabled:
                    raise StreamDisabled("streaming disabled (BACKBONE_STREAMING_ENABLED=false): nothing to consume")
                bus = EventBus()
                for loaded, is_required in [(h, True) for h in required] + [(h, False) for h in extra]:
                    _subscribe(bus, loaded, is_required, res)
                # A bridge started before the first publish creates the topic as publishers would (shaped by
                # BACKBONE_KAFKA_*), instead of failing on a topic that does not exist yet.
                res.stream.ensure_topic()
                topic = res.stream.describe()["topic"]
                click.echo(f"consuming {topic} as group {group} (SIGTERM stops cleanly)", err=True)
                report = anyio.run(_feed, res.stream, group, bus, idle_timeout, bus_topic)
    except KeyboardInterrupt:
        sys.exit(exit_codes.INTERRUPTED)
    click.echo(
        f"received {report.received}, handled {report.handled}, skipped {report.skipped} duplicate/out-of-date, "
        f"{report.commits} commits; {_describe(bus.stats())}",
        err=True,
    )


def _subscribe(bus: EventBus, loaded: LoadedHandler, required: bool, resources: object) -> None:
    spec = loaded.spec
    bus.subscribe(spec.topic, spec.build(resources), name=loaded.name, required=required and spec.required)


def _one_topic(handlers: list[LoadedHandler]) -> Topic[Any]:
    """The bus topic every handler follows: one consume reads one stream topic."""
    topics = {h.spec.topic.name: h.spec.topic for h in handlers}
    if len(topics) > 1:
        named = "; ".join(f"{h.name}: {h.spec.topic.name}" for h in handlers)
        raise UsageError(f"handlers follow different topics ({named}): run one consume per topic")
    return next(iter(topics.values()))


def _on_topic(settings: BackboneSettings, topic: Topic[Any]) -> BackboneSettings:
    """The settings whose stream reads ``topic``'s stream topic: the intraday one needs intraday bars on."""
    if topic.name != BARS_INTRADAY.name:
        return settings
    intraday = settings.stream.intraday
    if not intraday.enabled:
        raise IntradayDisabled(
            f"intraday bars are off (BACKBONE_INTRADAY_ENABLED=false, the default): nothing to consume from "
            f"{intraday.topic}"
        )
    return settings.model_copy(update={"stream": settings.stream.for_intraday()})


async def _feed(
    stream: StreamResource, group: str, bus: EventBus, idle_timeout: float | None, topic: Topic[Any]
) -> BridgeReport:
    async with bus:
        return await BusBridge(stream, group, bus, topic=topic).feed(idle_timeout_s=idle_timeout)


def _describe(stats: BusStats) -> str:
    return ", ".join(
        f"{name}: {s.handled} handled, {s.restarts} restarts" + (f", {s.dropped} dropped" if not s.required else "")
        for name, s in stats.subscribers.items()
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
