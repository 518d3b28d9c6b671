"""A publish proves itself on every backend: the topic deleted between publish and proof is a shortfall, and
publishing again completes the topic (issue 13, D6: a restarted memory-only broker acknowledged, then held 0)."""

from __future__ import annotations

import secrets
import sqlite3

import pytest

from backbone_domain.streaming import PublishShortfall, bar_messages, prove_publish
from backbone_resources.stream.base import StreamResource
from backbone_tests.builders import daily_bars
from backbone_tests.resources.stream.conftest import kafka_stream
from backbone_tests.resources.stream.test_contract import _drain


def _delete_topic(stream: StreamResource) -> None:
    """What a memory-only broker restarted mid-publish leaves: no topic."""
    if stream.describe()["backend"] == "kafka":
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": stream.describe()["bootstrap"]})
        admin.delete_topics([stream.topic])[stream.topic].result(15)
    else:
        with sqlite3.connect(stream.describe()["path"]) as conn:
            conn.execute("DELETE FROM records WHERE topic = ?", (stream.topic,))
            conn.execute("DELETE FROM topics WHERE topic = ?", (stream.topic,))


def test_a_topic_lost_after_the_acknowledgements_fails_the_proof_and_a_republish_completes_it(stream):
    bars = daily_bars()
    stream.ensure_topic()
    report = stream.publish(bar_messages(bars, "ingest"))
    proof = prove_publish(stream, report)
    assert (proof.verified, proof.complete) == (len(bars), True)

    _delete_topic(stream)
    with pytest.raises(PublishShortfall, match=rf"delivered {len(bars)}, topic holds 0"):
        prove_publish(stream, report)
    stream.ensure_topic()  # recreated empty, as the broker's auto-create or the next run does
    with pytest.raises(PublishShortfall, match=rf"delivered {len(bars)}, topic holds 0"):
        prove_publish(stream, report)

    again = stream.publish(bar_messages(bars, "ingest"))  # the retry
    assert prove_publish(stream, again).verified == len(bars)
    with stream.consumer("after-retry") as consumer:
        assert len(_drain(consumer, len(bars))) == len(bars)


@pytest.mark.kafka
def test_end_offsets_that_lag_the_records_are_read_back(kafka_bootstrap):
    # default producer batching: a broker that reports the end as the last batch's base offset + 1 (tansu)
    # shows fewer offsets than records; reading the tails proves the publish instead of failing it
    stream = kafka_stream(kafka_bootstrap, f"test.bars.{secrets.token_hex(4)}", producer_config={})
    stream.ensure_topic()
    bars = daily_bars()
    report = stream.publish(bar_messages(bars, "ingest"))
    proof = prove_publish(stream, report)
    assert (proof.verified, proof.complete) == (len(bars), True)
    assert sum(stream.end_offsets(read_back=True).values()) == len(bars)
    print(f"\nbatched publish of {len(bars)}: reported ends {stream.end_offsets()}, proved by {proof.method}")
