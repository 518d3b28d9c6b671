"""Bars through Dagster onto the stream and out through the bridge, on both tiers (Kafka = the real broker).

Publish -> consume with a group -> lag measured by the check -> replay -> the handler saw every stored bar
exactly once; and a publish killed half-way, then re-run, leaves every stored bar on the topic.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest

from backbone_assets.definitions import build_defs
from backbone_assets.stream import KAFKA_REPLAY_JOB
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.tiers import build_stream
from backbone_tests.assets.stream_support import GROUP, read_topic, streaming

pytestmark = pytest.mark.slow
JAN, FEB_END = dt.date(2024, 1, 1), dt.date(2024, 2, 29)
TIERS = ["bootstrap", pytest.param("institutional", marks=[pytest.mark.postgres, pytest.mark.kafka])]


def _stored(settings) -> set[tuple]:
    with all_resources(settings) as resources:
        bars = resources.store.read_bars(JAN, FEB_END)
    return {(s, ts.to_pydatetime()) for s, ts in zip(bars["symbol"], bars["ts"], strict=True)}


STREAM_FLOW = ["daily_bars_raw", "daily_bars", "daily_bars_kafka"]  # the cache and batch layers are not tested here


def _lag_check(settings) -> dict:
    """Only the lag check (the other layers' checks would start their services)."""
    job = dg.define_asset_job("lag_only", selection=dg.AssetSelection.checks_for_assets("daily_bars_kafka"))
    defs = dg.Definitions.merge(build_defs(settings), dg.Definitions(jobs=[job]))
    with runner.instance(settings) as inst:
        result = defs.resolve_job_def("lag_only").execute_in_process(instance=inst)
    assert result.success
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "kafka_consumer_lag"]
    return {"passed": evaluation.passed, **{k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}}


@pytest.mark.parametrize("tier", TIERS)
def test_publish_consume_lag_replay_exactly_once(tier, request):
    settings = streaming(request.getfixturevalue(tier), request)
    run = runner.materialize(settings, JAN, FEB_END, STREAM_FLOW)
    assert run.success
    stored = _stored(settings)
    mats = {e.asset_key.path[-1]: e for e in run.get_asset_materialization_events()}
    meta = mats["daily_bars_kafka"].event_specific_data.materialization.metadata
    assert meta["messages_delivered"].value == meta["stored_bars"].value == len(stored)
    assert meta["bytes"].value > 0
    offsets = meta["partition_offsets"].value
    assert sum(p["last"] - p["first"] + 1 for p in offsets.values()) == len(stored)

    before = _lag_check(settings)  # the group has not read anything yet: lag = everything published
    assert (before["passed"], before["total_lag"], before["threshold"]) == (False, len(stored), 0)

    first = read_topic(settings, GROUP, len(stored))
    assert {(b.symbol, b.ts) for b in first} == stored
    assert len(first) == len(stored)
    after = _lag_check(settings)
    assert (after["passed"], after["total_lag"], after["max_partition_lag"]) == (True, 0, 0)

    job = build_defs(settings).resolve_job_def(KAFKA_REPLAY_JOB)
    config = {"ops": {"replay_bars": {"config": {"start": str(JAN), "end": str(FEB_END), "symbols": []}}}}
    with runner.instance(settings) as inst:
        replayed = job.execute_in_process(run_config=config, instance=inst)
    assert replayed.output_for_node("replay_bars") == len(stored)

    # a fresh reader sees ingest copies + replay copies, and hands over every bar exactly once
    everything = read_topic(settings, "late-joiner", len(stored))
    assert len(everything) == len(stored)
    assert {(b.symbol, b.ts) for b in everything} == stored
    # the first group only has the replayed copies left: all dropped as duplicates by a new bridge process
    again = read_topic(settings, GROUP, len(stored))
    assert {b.origin for b in again} == {"replay"}
    assert len(again) == len(stored)  # a new process has no memory: it hands over the replay once


def test_streaming_disabled_keeps_the_graph_and_says_so(bootstrap):
    settings = bootstrap.model_copy(update={"stream": bootstrap.stream.model_copy(update={"streaming_enabled": False})})
    run = runner.materialize(settings, JAN, dt.date(2024, 1, 10), STREAM_FLOW)
    assert run.success
    mats = {e.asset_key.path[-1]: e for e in run.get_asset_materialization_events()}
    meta = mats["daily_bars_kafka"].event_specific_data.materialization.metadata
    assert (meta["status"].value, meta["messages_delivered"].value) == ("streaming disabled", 0)


_KILLABLE = textwrap.dedent(
    """
    import datetime as dt, sys, time
    from backbone_ops.resources import all_resources
    from backbone_domain.streaming import publish_range
    from backbone_resources.settings import BackboneSettings

    settings = BackboneSettings.model_validate_json(sys.stdin.read())
    with all_resources(settings) as res:
        store, days = res.store, 0
        class StallingStore:  # one day at a time; half-way it stalls until the parent kills it
            def read_bars_table(self, start, end, symbols=None):
                global days
                days += 1
                if days > 30:
                    time.sleep(600)
                return store.read_bars_table(start, end, symbols)
        print("publishing", flush=True)
        publish_range(res.stream, StallingStore(), dt.date(2024, 1, 1), dt.date(2024, 2, 29), "ingest", chunk_days=1)
    print("finished", flush=True)
    """
)


def _revealed_json(settings) -> str:
    """The settings for the child process, secrets included (model_dump_json masks SecretStr)."""
    data = settings.model_dump(mode="json")
    for name in ("timescale_url", "redis_url"):
        secret = getattr(settings, name)
        data[name] = secret.get_secret_value() if secret is not None else None
    return json.dumps(data)


@pytest.mark.parametrize("tier", TIERS)
def test_publish_killed_half_way_then_rerun_leaves_every_bar(tier, request):
    settings = streaming(request.getfixturevalue(tier), request)
    assert runner.materialize(settings, JAN, FEB_END, ["daily_bars_raw", "daily_bars"]).success
    stored = _stored(settings)
    build_stream(settings).ensure_topic()

    child = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert child.stdin is not None
    child.stdin.write(_revealed_json(settings))
    child.stdin.close()
    stream = build_stream(settings)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        published = sum(p.end_offset for p in stream.lag("probe"))
        if published >= len(stored) // 4:
            break
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert 0 < published < len(stored), "the kill must land half-way"

    assert runner.materialize(settings, JAN, FEB_END, ["daily_bars_kafka"]).success
    assert {(b.symbol, b.ts) for b in read_topic(settings, "verifier", len(stored))} == stored
