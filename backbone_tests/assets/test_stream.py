"""The consumer-lag rule, judged once (``health.lagging_groups``): the ``kafka_consumer_lag`` check and
``backbone status`` agree, group by group, on the bootstrap tier's real local log."""

import dagster as dg

from backbone_assets.stream import build_stream_checks
from backbone_domain.message_batch import MessageBatch
from backbone_ops.status.measure import _stream
from backbone_resources.settings import load_settings
from backbone_resources.stream.settings import StreamPolicy, StreamSettings
from backbone_resources.tiers import build_stream

GROUPS = ["risk", "research"]


def _publish(stream, count: int) -> None:
    stream.publish([MessageBatch(keys=[b"AAPL"] * count, values=[b"{}"] * count, headers={})])


def _check(stream) -> dg.AssetCheckResult:
    [kafka_consumer_lag] = build_stream_checks()
    return kafka_consumer_lag(stream=stream)


def test_check_and_status_judge_each_consumer_group_alone(tmp_path):
    conf = StreamSettings(policy=StreamPolicy(consumer_groups=GROUPS, lag_warn=10, partitions=1))
    settings = load_settings(mode="bootstrap", home=tmp_path, stream=conf)
    stream = build_stream(settings)
    stream.ensure_topic()
    _publish(stream, 6)  # each group 6 behind: 12 together, each within 10

    check, status = _check(stream), _stream(settings, [])
    assert check.passed
    assert status is not None
    assert status.breached_groups == []
    assert check.metadata["total_lag"].value == 12  # the figure is still shown; the verdict is per group

    with stream.consumer("risk") as consumer:  # risk catches up, then both fall 6 further behind
        consumer.commit(consumer.poll(100, 1.0))
    _publish(stream, 6)
    check, status = _check(stream), _stream(settings, [])
    assert not check.passed
    assert check.description == "research lags 12 > 10"
    assert status is not None
    assert status.breached_groups == ["research"]
    assert check.metadata["groups_over_threshold"].value == 1
