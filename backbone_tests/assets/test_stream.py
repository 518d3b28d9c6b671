"""The consumer-lag rule, judged once (``health.lag_breach``): the ``kafka_consumer_lag`` check and
``backbone status`` agree, group by group, in messages and in seconds, on the bootstrap tier's real local log."""

import datetime as dt
import time

import dagster as dg
import pandas as pd

from backbone_assets.stream import build_stream_checks
from backbone_domain.bars import empty_rejected
from backbone_domain.message_batch import MessageBatch
from backbone_domain.streaming import publish_range
from backbone_ops.status.measure import _stream
from backbone_resources.settings import load_settings
from backbone_resources.stream.settings import StreamPolicy, StreamSettings
from backbone_resources.tiers import build_store, build_stream
from backbone_tests.builders import daily_bars

GROUPS = ["risk", "research"]


def _publish(stream, count: int) -> None:
    stream.publish([MessageBatch(keys=[b"AAPL"] * count, values=[b"{}"] * count, headers={})])


def _check(stream) -> dg.AssetCheckResult:
    [kafka_consumer_lag] = build_stream_checks()
    return kafka_consumer_lag(stream=stream)


def _settings(tmp_path, **policy: object):
    conf = StreamSettings(policy=StreamPolicy(consumer_groups=GROUPS, partitions=1, **policy))  # type: ignore[arg-type]
    return load_settings(mode="bootstrap", home=tmp_path, stream=conf)


def test_check_and_status_judge_each_consumer_group_alone(tmp_path):
    settings = _settings(tmp_path, lag_warn=10, lag_warn_s=3600)
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
    assert check.description == "research lags 12 > 10 messages"
    assert status is not None
    assert status.breached_groups == ["research"]
    assert status.breaches() == ["consumer group research lags 12 > 10 messages"]
    assert check.metadata["groups_over_threshold"].value == 1


def test_check_and_status_agree_on_a_wait_in_seconds(tmp_path):
    """Few messages, waiting too long: a breach in seconds alone, named the same by the check and status."""
    settings = _settings(tmp_path, lag_warn=100, lag_warn_s=0.5)
    stream = build_stream(settings)
    stream.ensure_topic()
    _publish(stream, 2)
    with stream.consumer("risk") as consumer:
        consumer.commit(consumer.poll(100, 1.0))
    time.sleep(0.7)  # research's 2 messages now wait longer than 0.5 s; risk has none

    check, status = _check(stream), _stream(settings, [])
    assert not check.passed
    assert status is not None
    assert status.breached_groups == ["research"]
    [sentence] = check.description.split("; ")
    assert sentence.startswith("research lags ")
    assert sentence.endswith(" s > 0.5 s")
    assert status.breaches() == [f"consumer group {sentence}"]
    by_group = check.metadata["lag_by_group"].value
    assert by_group["risk"]["0"]["lag_seconds"] == 0.0
    assert 0.7 <= by_group["research"]["0"]["lag_seconds"] < 30
    research = {g.group: g for g in status.groups}["research"]
    assert research.max_seconds is not None
    assert 0.7 <= research.max_seconds < 30


def test_a_replay_of_2019_bars_reads_as_seconds_of_lag_not_years(tmp_path):
    """The real replay path (``publish_range(..., "replay")``, what ``backbone replay`` runs) over stored 2019
    bars: both groups lag every replayed bar, by seconds, and neither breaches an hour's threshold."""
    settings = _settings(tmp_path, lag_warn=1000, lag_warn_s=3600)
    store, stream = build_store(settings), build_stream(settings)
    bars = daily_bars(days=5)
    bars = bars.assign(ts=bars["ts"] - pd.DateOffset(years=5))  # 2019-01-01..05
    store.write_validated(dt.date(2019, 1, 1), dt.date(2019, 1, 5), bars, empty_rejected())
    stream.ensure_topic()
    report = publish_range(stream, store, dt.date(2019, 1, 1), dt.date(2019, 1, 5), "replay")
    assert report.delivered == len(bars)

    check, status = _check(stream), _stream(settings, [])
    assert check.passed, check.description
    assert status is not None
    assert status.breaches() == []
    for group in status.groups:
        assert group.total == len(bars)
        assert group.max_seconds is not None
        assert group.max_seconds < 60
    assert check.metadata["max_lag_seconds"].value < 60
