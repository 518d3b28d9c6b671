"""ingest_health_sensor: a run ends, the status snapshot goes onto the health topic (the local log on bootstrap)
and from there, through the bridge, to a subscriber of the bus's ``telemetry.ingest.health``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import anyio
import dagster as dg

from backbone_assets.health_sensor import INGEST_HEALTH_SENSOR, build_health_sensor
from backbone_domain.bus import INGEST_HEALTH, EventBus
from backbone_domain.bus.stream_feed import BusBridge
from backbone_domain.health import HealthSnapshot
from backbone_ops import runner
from backbone_ops.status.publish import on_health_topic
from backbone_resources.settings import BackboneSettings
from backbone_resources.tiers import build_stream

DAY = dt.date(2024, 1, 2)


def _tick(settings: BackboneSettings, instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    sensor = build_health_sensor(settings)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, sensor_name=INGEST_HEALTH_SENSOR)
    return sensor.evaluate_tick(context).cursor


def _health_events(settings: BackboneSettings) -> int:
    return sum(build_stream(on_health_topic(settings)).end_offsets().values())


def test_a_run_publishes_a_health_event_on_the_local_log_that_a_bus_subscriber_receives(bootstrap):
    with runner.instance(bootstrap) as instance:
        first = _tick(bootstrap, instance, None)  # a new sensor publishes at once: no event yet to be late from
        assert _health_events(bootstrap) == 1
        quiet = _tick(bootstrap, instance, first)  # no run ended, the last event is fresh: nothing
        assert _health_events(bootstrap) == 1
        assert quiet == first

        result = runner.materialize(bootstrap, DAY, DAY, ["daily_bars_raw", "daily_bars"])
        assert result.success
        after = _tick(bootstrap, instance, quiet)
        assert _health_events(bootstrap) == 2
        assert json.loads(after or "{}")["runs_until"] > json.loads(quiet or "{}")["runs_until"]
        _tick(bootstrap, instance, after)  # that run is not news twice
        assert _health_events(bootstrap) == 2

    received: list[HealthSnapshot] = []

    async def runtime() -> None:
        bus = EventBus()
        bus.subscribe(INGEST_HEALTH, received.append, name="runtime-health")
        async with bus:
            health = build_stream(on_health_topic(bootstrap))
            await BusBridge(health, "runtime", bus, topic=INGEST_HEALTH).feed(idle_timeout_s=0.5)

    anyio.run(runtime)
    assert [s.tier for s in received] == ["bootstrap", "bootstrap"]
    before, latest = received
    assert before.latest_run is None  # measured before any run
    assert latest.latest_run is not None
    assert latest.latest_run.run_id == result.run_id  # the event reports the run that triggered it
    assert latest.stream is not None
    assert latest.cache is not None
    assert latest.freshness is not None
    assert latest.generated_at > before.generated_at


def test_the_sensor_publishes_every_health_every_s_without_a_run(bootstrap):
    fast = bootstrap.model_copy(update={"telemetry": bootstrap.telemetry.model_copy(update={"health_every_s": 0.01})})
    with runner.instance(fast) as instance:
        cursor = _tick(fast, instance, None)
        _tick(fast, instance, cursor)
    assert _health_events(fast) == 2


def test_the_telemetry_docs_example_receives_the_health_events(bootstrap, monkeypatch, capsys):
    """docs/telemetry.md's bus example, as written, after two events."""
    fast = bootstrap.model_copy(update={"telemetry": bootstrap.telemetry.model_copy(update={"health_every_s": 0.01})})
    with runner.instance(fast) as instance:
        _tick(fast, instance, _tick(fast, instance, None))
    monkeypatch.setenv("BACKBONE_MODE", "bootstrap")
    monkeypatch.setenv("BACKBONE_HOME", str(bootstrap.home))
    docs = (Path(__file__).resolve().parents[2] / "docs" / "telemetry.md").read_text()
    example = docs.split("## Health events", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]

    exec(compile(example, "docs/telemetry.md", "exec"), {"__name__": "example"})

    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2
    assert all(line.startswith(dt.date.today().isoformat()[:4]) for line in printed)
