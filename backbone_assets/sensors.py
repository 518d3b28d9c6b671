"""The run-failure sensor: every failed run in the instance (CLI runs included) becomes one line of telemetry.

Each failure is appended to ``$BACKBONE_HOME/telemetry/run_failures.jsonl`` (read by ``backbone status``) and
counted per job in the instance's key-value store, which lives beside the runs (SQLite on bootstrap, PostgreSQL
on the institutional instance) and so survives restarts of the daemon.

Dagster keeps the sensor's own cursor, but a daemon killed between handling an event and storing that cursor
sees the event again. A per-run marker in the same key-value store makes a second evaluation a no-op; the
marker and the count are written together, after the line, so a crash can at worst repeat a line (readers key
by ``run_id``), never double a count.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from backbone_assets.jobs import KIND_TAG
from backbone_domain.redaction import redact

RUN_FAILURE_SENSOR = "run_failure_telemetry_sensor"
COUNTS_KEY = "backbone.run_failures.counts"
SEEN_PREFIX = "backbone.run_failures.seen."
_MAX_ERROR_CHARS = 500
_MODULE_PATH = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?P<cls>[A-Za-z_]\w*): ")  # dagster._core....Failure: -> Failure:


def run_failures_path(home: Path) -> Path:
    """The JSON-lines file of run failures under ``BACKBONE_HOME``."""
    return home / "telemetry" / "run_failures.jsonl"


def _innermost(error: SerializableErrorInfo | None) -> SerializableErrorInfo | None:
    while error is not None and error.cause is not None:
        error = error.cause
    return error


def error_line(errors: Iterable[SerializableErrorInfo | None], fallback: str) -> str:
    """The first line of the root cause of the first error given (the user's exception, not Dagster's
    wrapper), redacted and bounded; ``fallback`` when there is none."""
    for error in errors:
        root = _innermost(error)
        if root is not None:
            line = next((part.strip() for part in root.message.splitlines() if part.strip()), "")
            if line:
                return redact(_MODULE_PATH.sub(r"\g<cls>: ", line))[:_MAX_ERROR_CHARS]
    return redact(fallback.splitlines()[0] if fallback else "")[:_MAX_ERROR_CHARS]


def failure_counts(instance: dg.DagsterInstance) -> dict[str, int]:
    """Failed runs per job recorded so far (the source of ``backbone_run_failures_total{job}``)."""
    raw = instance.run_storage.get_cursor_values({COUNTS_KEY}).get(COUNTS_KEY)
    return {str(job): int(n) for job, n in json.loads(raw).items()} if raw else {}


def record_failure(instance: dg.DagsterInstance, path: Path, run: dg.DagsterRun, error: str) -> bool:
    """Append the failure of ``run`` and count it, once per run id; False when it was already recorded."""
    seen_key = f"{SEEN_PREFIX}{run.run_id}"
    if instance.run_storage.get_cursor_values({seen_key}).get(seen_key):
        return False
    record = instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None and record.end_time else None
    failed_at = dt.datetime.fromtimestamp(ended, dt.UTC) if ended else dt.datetime.now(dt.UTC)
    line = {
        "run_id": run.run_id,
        "job_name": run.job_name,
        "failed_at": failed_at.isoformat(),
        "kind": run.tags.get(KIND_TAG),
        "error": error,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
    counts = failure_counts(instance)
    counts[run.job_name] = counts.get(run.job_name, 0) + 1
    instance.run_storage.set_cursor_values({seen_key: line["failed_at"], COUNTS_KEY: json.dumps(counts)})
    return True


def build_run_failure_sensor(path: Path) -> dg.RunStatusSensorDefinition:
    """The sensor writing to ``path`` (resolved now: the daemon's working directory may differ)."""
    path = path.resolve()

    @dg.run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        # Runs of the `backbone` CLI execute in process and carry no code-location origin; a sensor watching
        # only its own location skips them. Backbone is the instance's one code location, so watch them all.
        monitor_all_code_locations=True,
        description=f"Records every failed run in {path.name} and counts failures per job.",
    )
    def run_failure_telemetry_sensor(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        step_errors = [event.event_specific_data.error for event in context.get_step_failure_events()]  # type: ignore[union-attr]
        run_error = getattr(context.failure_event.event_specific_data, "error", None)
        error = error_line([*step_errors, run_error], context.failure_event.message or "")
        if record_failure(context.instance, path, run, error):
            context.log.info(f"run {run.run_id} of {run.job_name} failed: recorded in {path}")

    return run_failure_telemetry_sensor
