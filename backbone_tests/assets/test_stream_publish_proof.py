"""daily_bars_kafka proves its publish (issue 13, D6): a topic lost after the acknowledgements fails the step, the
retry republishes and completes the topic; a publish that never proves itself is a gap the replay sensor acts on."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from backbone_assets import stream as stream_assets
from backbone_assets.stream_sensors import kafka_replay_sensor
from backbone_domain import streaming
from backbone_ops import runner
from backbone_resources.tiers import build_store, build_stream
from backbone_tests.assets.stream_support import read_topic
from backbone_tests.assets.stream_support import streaming as streaming_settings
from backbone_tests.resources.stream.test_publish_proof import _delete_topic

pytestmark = pytest.mark.slow
JAN, JAN_END = dt.date(2024, 1, 1), dt.date(2024, 1, 12)
STREAM_FLOW = ["daily_bars_raw", "daily_bars", "daily_bars_kafka"]
TIERS = ["bootstrap", pytest.param("institutional", marks=[pytest.mark.postgres, pytest.mark.kafka])]


def _quick_retries(settings):
    """The asset's two retries spaced 0.2 s and 0.4 s instead of 10 s and 20 s: the same retries, less waiting."""
    policy = settings.stream.policy.model_copy(update={"retry_delay_s": 0.2})
    return settings.model_copy(update={"stream": settings.stream.model_copy(update={"policy": policy})})


def _losing_the_topic(monkeypatch, times: int) -> list[str]:
    """The first ``times`` proofs find the topic gone, as after a memory-only broker's restart mid-publish."""
    failures: list[str] = []

    def prove(stream, report):
        if len(failures) < times:
            _delete_topic(stream)
            try:
                return streaming.prove_publish(stream, report)
            except streaming.PublishShortfall as exc:
                failures.append(str(exc))
                raise
        return streaming.prove_publish(stream, report)

    monkeypatch.setattr(stream_assets, "prove_publish", prove)
    return failures


def _step_events(run, kind: str) -> list:
    return [e for e in run.all_events if e.step_key == "daily_bars_kafka" and e.event_type_value == kind]


@pytest.mark.parametrize("tier", TIERS)
def test_a_topic_lost_after_the_acknowledgements_fails_the_step_and_the_retry_completes_it(tier, request, monkeypatch):
    settings = _quick_retries(streaming_settings(request.getfixturevalue(tier), request))
    failures = _losing_the_topic(monkeypatch, times=1)
    run = runner.materialize(settings, JAN, JAN_END, STREAM_FLOW)
    assert run.success
    (failure,) = failures
    assert "topic holds 0" in failure
    assert len(_step_events(run, "STEP_UP_FOR_RETRY")) == 1

    (mat,) = [e for e in run.get_asset_materialization_events() if e.asset_key.path[-1] == "daily_bars_kafka"]
    meta = {k: v.value for k, v in mat.event_specific_data.materialization.metadata.items()}
    assert meta["messages_verified"] == meta["messages_delivered"] == meta["stored_bars"] > 0
    assert sum(meta["end_offsets_after"].values()) >= meta["stored_bars"]
    print(f"\n{tier}: first proof: {failure}\nretry: {meta['messages_verified']} verified by {meta['verified_by']}")
    assert len(read_topic(settings, "after-retry", meta["stored_bars"])) == meta["stored_bars"]


def test_a_publish_never_proved_fails_the_run_and_is_a_gap_the_sensor_replays(bootstrap, request, monkeypatch):
    settings = _quick_retries(streaming_settings(bootstrap, request))
    failures = _losing_the_topic(monkeypatch, times=3)  # the first attempt and both retries
    run = runner.materialize(settings, JAN, JAN_END, STREAM_FLOW)
    assert not run.success
    assert len(failures) == 3
    assert any("topic holds 0" in str(e.event_specific_data.error) for e in _step_events(run, "STEP_FAILURE"))

    resources = {"store": build_store(settings), "stream": build_stream(settings)}
    with runner.instance(settings) as instance:
        requests = kafka_replay_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.run_key for r in requests] == [f"gap:{run.run_id}"]
    config = requests[0].run_config["ops"]["replay_bars"]["config"]
    assert (config["start"], config["end"]) == (str(JAN), str(JAN_END))
