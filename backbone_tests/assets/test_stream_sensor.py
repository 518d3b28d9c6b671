"""kafka_replay_sensor: a gap between stored and delivered bars, or an operator's request, starts a replay."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from backbone_assets.stream_sensors import kafka_replay_sensor, request_replay
from backbone_ops import runner
from backbone_resources.tiers import build_store, build_stream
from backbone_tests.assets.stream_support import streaming

pytestmark = pytest.mark.slow
JAN, JAN_END = dt.date(2024, 1, 1), dt.date(2024, 1, 12)


def _tick(settings, instance, cursor=None):
    resources = {"store": build_store(settings), "stream": build_stream(settings)}
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = kafka_replay_sensor(context)
    return result, context.cursor


def test_gap_and_operator_request_start_replays(bootstrap, request):
    settings = streaming(bootstrap, request)
    # stored but never published: a gap
    gap_run = runner.materialize(settings, JAN, JAN_END, ["daily_bars_raw", "daily_bars"])
    assert gap_run.success
    # stored and published: no gap
    published = ["daily_bars_raw", "daily_bars", "daily_bars_kafka"]  # the other layers play no part here
    assert runner.materialize(settings, dt.date(2024, 2, 1), dt.date(2024, 2, 9), published).success
    with runner.instance(settings) as instance:
        requests, cursor = _tick(settings, instance)
        assert [r.run_key for r in requests] == [f"gap:{gap_run.run_id}"]
        config = requests[0].run_config["ops"]["replay_bars"]["config"]
        assert (config["start"], config["end"]) == (str(JAN), str(JAN_END))

        again, cursor = _tick(settings, instance, cursor)
        assert isinstance(again, dg.SkipReason)  # the cursor moved past what was evaluated

        request_replay(instance, JAN, JAN, ["AAPL"])
        asked, cursor = _tick(settings, instance, cursor)
        assert len(asked) == 1
        assert asked[0].tags["backbone/replay_reason"] == "operator request"
        assert asked[0].run_config["ops"]["replay_bars"]["config"]["symbols"] == ["AAPL"]
        assert isinstance(_tick(settings, instance, cursor)[0], dg.SkipReason)  # a request is taken once


def test_sensor_skips_when_streaming_is_disabled(bootstrap):
    off = bootstrap.model_copy(update={"stream": bootstrap.stream.model_copy(update={"streaming_enabled": False})})
    with runner.instance(off) as instance:
        result, _ = _tick(off, instance)
    assert isinstance(result, dg.SkipReason)
    assert "streaming disabled" in str(result.skip_message)
