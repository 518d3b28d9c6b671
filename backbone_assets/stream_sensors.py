"""The replay sensor: starts ``kafka_replay_job`` when the store holds more bars than reached Kafka, or when an
operator asked for a replay (``backbone replay --request``).

A gap is measured per finished run of ``daily_bars``: the messages that run's ``daily_bars_kafka`` was due to
publish (``messages_due``: the bars changed since the previous publish; every bar stored for its date range when
it did not say), against the messages it delivered and the topic was shown to hold (none when that step failed,
including a publish whose messages the topic did not hold, was skipped or streaming was off). Requests sit in
the Dagster instance's key-value store, so they work the same on every tier and survive restarts.
"""

import datetime as dt
import json

import dagster as dg

from backbone_assets.partitions import run_days
from backbone_assets.stream import KAFKA_REPLAY_JOB, MESSAGES_DUE, STREAM_DISABLED
from backbone_resources.store.base import BarStore
from backbone_resources.stream.base import StreamResource

REQUEST_KEY = "backbone.kafka_replay_request"
_BATCH = 1_000
_PAGES = 20  # records examined per tick at most: _BATCH * _PAGES


def request_replay(instance: dg.DagsterInstance, start: dt.date, end: dt.date, symbols: list[str]) -> dict:
    """Leave a replay request for the sensor (one pending request; a newer one replaces it)."""
    request = {
        "start": str(start),
        "end": str(end),
        "symbols": symbols,
        "requested_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    instance.run_storage.set_cursor_values({REQUEST_KEY: json.dumps(request)})
    return request


def _take_request(instance: dg.DagsterInstance) -> dict | None:
    raw = instance.run_storage.get_cursor_values({REQUEST_KEY}).get(REQUEST_KEY)
    if not raw:
        return None
    instance.run_storage.set_cursor_values({REQUEST_KEY: ""})
    return json.loads(raw)


def _replay(start: str, end: str, symbols: list[str], run_key: str, reason: str) -> dg.RunRequest:
    config = {"ops": {"replay_bars": {"config": {"start": start, "end": end, "symbols": symbols}}}}
    return dg.RunRequest(run_key=run_key, run_config=config, tags={"backbone/replay_reason": reason})


def _delivered_by_run(instance: dg.DagsterInstance, run_id: str) -> tuple[int, int | None]:
    """What the run's publish delivered, and what it was due to deliver when it said so (None: every stored bar
    of its range, as runs did before publishing only the bars changed since the previous publish)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_bars_kafka")), limit=_BATCH
    ).records
    for record in records:
        if record.run_id == run_id:
            meta = record.asset_materialization.metadata  # type: ignore[union-attr]
            if meta.get("status") and meta["status"].value == STREAM_DISABLED:
                return 0, None
            # what the topic was shown to hold (runs before the publish proof recorded only the deliveries)
            counted = meta.get("messages_verified") or meta["messages_delivered"]
            due = meta.get(MESSAGES_DUE)
            return int(counted.value), None if due is None else int(due.value)
    return 0, None  # no materialization: the step failed (a publish the topic did not hold, too) or was skipped


@dg.sensor(job_name=KAFKA_REPLAY_JOB, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def kafka_replay_sensor(context: dg.SensorEvaluationContext, store: BarStore, stream: StreamResource):
    """Replays a date range to Kafka when stored bars exceed delivered messages, or on an operator request."""
    if not stream.enabled:
        return dg.SkipReason(STREAM_DISABLED)
    instance = context.instance
    requests = []
    request = _take_request(instance)
    if request:
        key = f"request:{request['requested_at']}"
        requests.append(_replay(request["start"], request["end"], request["symbols"], key, "operator request"))
    cursor = int(context.cursor or 0)
    seen_runs: set[str] = set()
    waiting = False
    for _ in range(_PAGES):  # a 20-year range run alone records 7,305 materializations of daily_bars
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_bars"), after_storage_id=cursor),
            limit=_BATCH,
            ascending=True,
        ).records
        for record in records:
            run = instance.get_run_by_id(record.run_id) if record.run_id not in seen_runs else None
            if run is not None and not run.is_finished:
                waiting = True  # its daily_bars_kafka step may still be publishing: look again next tick
                break
            cursor = record.storage_id
            if record.run_id in seen_runs:
                continue  # a range run records one materialization per partition, all for the same range
            seen_runs.add(record.run_id)
            # the run's days from its tags: a range run's figures sit on its last day only (range_result)
            span = run_days(run.tags) if run is not None else None
            if span is None and record.partition_key:  # the run is gone: the day this record holds
                span = (dt.date.fromisoformat(record.partition_key),) * 2
            if span is None:
                continue
            start, end = span
            date_range = f"{start}..{end}"
            delivered, due = _delivered_by_run(instance, record.run_id)
            stored = store.range_counts(start, end).bars if due is None else due
            if stored > delivered:
                context.log.info(f"gap in {date_range}: {stored} bars stored, {delivered} delivered")
                key, reason = f"gap:{record.run_id}", f"gap {stored}>{delivered}"
                requests.append(_replay(str(start), str(end), [], key, reason))
        if waiting or len(records) < _BATCH:
            break
    context.update_cursor(str(cursor))
    return requests or dg.SkipReason("no gap and no replay request")
