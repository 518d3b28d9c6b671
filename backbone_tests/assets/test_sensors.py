"""run_failure_telemetry_sensor: one redacted line and one count per failed run, however often it is evaluated."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
from dagster._core.remote_origin import RegisteredCodeLocationOrigin

from backbone_assets.definitions import build_defs
from backbone_assets.health_sensor import INGEST_HEALTH_SENSOR
from backbone_assets.jobs import ASSET_CHECKS_JOB, KIND_TAG
from backbone_assets.sensors import (
    RUN_FAILURE_SENSOR,
    build_run_failure_sensor,
    failure_counts,
    run_failures_path,
)
from backbone_assets.stream import KAFKA_REPLAY_JOB
from backbone_resources.settings import load_settings
from backbone_tests.assets.conftest import NO_STREAMING

SECRET = "s3cr3t-pw"


@dg.op
def connect() -> None:
    raise ConnectionError(f"cannot reach postgresql://market:{SECRET}@db.internal:5432/bars\nsecond line")


@dg.job(tags={KIND_TAG: "backfill"})
def failing_job() -> None:
    connect()


@dg.op
def fine() -> int:
    return 1


@dg.job
def passing_job() -> None:
    fine()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    """One evaluation as the daemon makes it: Dagster's own run-status cursor, and a context that names the
    code location (as the daemon's does), so runs without an origin (the CLI's, in process) must still match."""
    sensor = {s.name: s for s in defs.sensors or []}[RUN_FAILURE_SENSOR]  # type: ignore[union-attr]
    repository = defs.get_repository_def()
    context = dg.SensorEvaluationContext(
        instance_ref=None,
        cursor=cursor,
        repository_name=repository.name,
        repository_def=repository,
        instance=instance,
        sensor_name=RUN_FAILURE_SENSOR,
        code_location_origin=RegisteredCodeLocationOrigin("backbone"),
    )
    return sensor.evaluate_tick(context).cursor


def test_a_failed_run_is_recorded_once_across_restarts(tmp_path):
    path = run_failures_path(tmp_path)
    defs = dg.Definitions(jobs=[failing_job, passing_job], sensors=[build_run_failure_sensor(path)])
    with dg.instance_for_test() as instance:
        start = _tick(defs, instance, None)  # the first tick only sets Dagster's cursor
        failed = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert passing_job.execute_in_process(instance=instance).success
        after = _tick(defs, instance, start)
        assert after != start
        # A daemon killed before it stored `after` evaluates the same events again: still one record.
        _tick(defs, instance, start)
        _tick(defs, instance, after)

        [line] = _lines(path)
        assert failure_counts(instance) == {"failing_job": 1}
        record = instance.get_run_record_by_id(failed.run_id)
        assert record is not None
    assert set(line) == {"run_id", "job_name", "failed_at", "kind", "error"}
    assert (line["run_id"], line["job_name"], line["kind"]) == (failed.run_id, "failing_job", "backfill")
    assert dt.datetime.fromisoformat(line["failed_at"]) == dt.datetime.fromtimestamp(record.end_time, dt.UTC)
    # the user's exception, first line only, password hidden
    assert line["error"] == "ConnectionError: cannot reach postgresql://market:***@db.internal:5432/bars"
    assert SECRET not in path.read_text()


def test_evaluating_the_same_failure_twice_records_it_once(tmp_path):
    path = tmp_path / "telemetry" / "run_failures.jsonl"
    sensor = build_run_failure_sensor(path)
    with dg.instance_for_test() as instance:
        failed = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        second = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        for result in (failed, failed, second):
            run = instance.get_run_by_id(result.run_id)
            [event] = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
            context = dg.build_run_status_sensor_context(
                sensor_name=RUN_FAILURE_SENSOR,
                dagster_event=event.event_log_entry.dagster_event,  # type: ignore[arg-type]
                dagster_instance=instance,
                dagster_run=run,  # type: ignore[arg-type]
            ).for_run_failure()
            sensor(context)
        assert failure_counts(instance) == {"failing_job": 2}
    assert [line["run_id"] for line in _lines(path)] == [failed.run_id, second.run_id]


def test_run_without_a_kind_tag_is_recorded_with_kind_null(tmp_path):
    @dg.op
    def bad() -> None:
        raise dg.Failure(description="store unavailable: password=hunter2 rejected")

    @dg.job
    def untagged_job() -> None:
        bad()

    path = run_failures_path(tmp_path)
    defs = dg.Definitions(jobs=[untagged_job], sensors=[build_run_failure_sensor(path)])
    with dg.instance_for_test() as instance:
        cursor = _tick(defs, instance, None)
        untagged_job.execute_in_process(instance=instance, raise_on_error=False)
        _tick(defs, instance, cursor)
    [line] = _lines(path)
    assert line["kind"] is None
    assert "hunter2" not in line["error"]
    assert "store unavailable: password=***" in line["error"]


def test_backbone_definitions_wire_the_sensors_and_kind_tags(tmp_path):
    defs = build_defs(load_settings(mode="bootstrap", home=tmp_path))
    sensors = {s.name: s for s in defs.sensors or []}  # type: ignore[union-attr]
    assert set(sensors) == {"kafka_replay_sensor", RUN_FAILURE_SENSOR, INGEST_HEALTH_SENSOR}
    assert sensors[INGEST_HEALTH_SENSOR].default_status == dg.DefaultSensorStatus.RUNNING
    assert sensors[RUN_FAILURE_SENSOR].default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_job_def(ASSET_CHECKS_JOB).run_tags[KIND_TAG] == "checks"
    assert defs.resolve_job_def(KAFKA_REPLAY_JOB).run_tags[KIND_TAG] == "replay"


def test_a_failed_backbone_run_lands_under_backbone_home(tmp_path, monkeypatch):
    """A real failure of the code location: a replay with streaming off fails, the wired sensor records it."""
    monkeypatch.chdir(tmp_path)  # BACKBONE_HOME is relative by default; the sensor resolves it once
    defs = build_defs(load_settings(mode="bootstrap", home="home", stream=NO_STREAMING))
    replay = {"ops": {"replay_bars": {"config": {"start": "2024-01-02", "end": "2024-01-02"}}}}
    with dg.instance_for_test() as instance:
        cursor = _tick(defs, instance, None)
        result = defs.resolve_job_def(KAFKA_REPLAY_JOB).execute_in_process(
            run_config=replay, instance=instance, raise_on_error=False
        )
        assert not result.success
        _tick(defs, instance, cursor)
        assert failure_counts(instance) == {KAFKA_REPLAY_JOB: 1}
    [line] = _lines(tmp_path / "home" / "telemetry" / "run_failures.jsonl")
    assert (line["run_id"], line["kind"]) == (result.run_id, "replay")
    assert line["error"] == "Failure: streaming disabled: nothing to replay to"  # not dagster._core...Failure
