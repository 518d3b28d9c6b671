"""The health sensor: the status snapshot published as a health event after every run and at least every
``BACKBONE_HEALTH_EVERY_S`` (docs/telemetry.md, "Health events").

A sensor rather than a schedule, a hook or a ``--publish-every`` loop: a schedule must start a run to do anything
(a run every few minutes only to publish, crowding the run queue and the UI); a success hook fires per step, not
per run, and only in the jobs that declare it (not a failed run, not the CLI's runs); a loop is one more service
to keep alive, while the daemon already runs the sensors. One sensor serves both triggers: on each tick it
publishes once if any run ended (succeeded, failed or was cancelled: a failure is health news too) since the
last event, or if the last event is ``every_s`` old. Runs ending within one tick share one snapshot: it is the
platform's state, the same for each of them. The cursor keeps the last event's time and the newest run end seen.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import dagster as dg

from backbone_resources.settings import BackboneSettings

INGEST_HEALTH_SENSOR = "ingest_health_sensor"
_ENDED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def runs_ended_since(instance: dg.DagsterInstance, since: float) -> list[dg.RunRecord]:
    """Runs that reached an end state after ``since`` (Unix seconds), newest first."""
    updated_after = dg.RunsFilter(statuses=_ENDED, updated_after=dt.datetime.fromtimestamp(since, dt.UTC))
    return list(instance.get_run_records(filters=updated_after, limit=100))


def build_health_sensor(settings: BackboneSettings, tick_s: int = 30) -> dg.SensorDefinition:
    every_s = settings.telemetry.health_every_s

    @dg.sensor(
        name=INGEST_HEALTH_SENSOR,
        minimum_interval_seconds=tick_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Publishes the status snapshot on {settings.stream.health_topic} after each run and at least "
        f"every {every_s:g} s.",
    )
    def ingest_health_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        # Imported here: status measurement lives in backbone_ops (it reads every family and the instance), and
        # backbone_ops imports these definitions to run jobs; a top-level import would make the two a cycle.
        from backbone_ops.status.measure import measure
        from backbone_ops.status.publish import publish_health

        state = json.loads(context.cursor) if context.cursor else {"published": 0.0, "runs_until": 0.0}
        now = time.time()
        ended = runs_ended_since(context.instance, state["runs_until"])
        due = now - state["published"] >= every_s
        if not ended and not due:
            return dg.SkipReason(f"no run ended since the last health event ({now - state['published']:.0f} s ago)")
        snapshot = measure(settings, instance=context.instance)
        report = publish_health(snapshot, settings)
        newest_end = max((r.update_timestamp.timestamp() for r in ended), default=state["runs_until"])
        context.update_cursor(json.dumps({"published": now, "runs_until": newest_end}))
        why = f"{len(ended)} run(s) ended" if ended else f"{every_s:g} s since the last event"
        if report is None:
            return dg.SkipReason(f"{why}; streaming disabled: no health event published")
        context.log.info(f"health event published ({why}): {'healthy' if snapshot.healthy else 'degraded'}")
        return dg.SkipReason(f"{why}: published the health snapshot of {snapshot.generated_at}")

    return ingest_health_sensor
