"""Settings with streaming on, per tier, and a reader that collects everything on the topic."""

from __future__ import annotations

import secrets

import pytest

from backbone_domain.bridge import Bridge
from backbone_resources.settings import BackboneSettings
from backbone_resources.stream.settings import KafkaSettings, StreamPolicy, StreamSettings
from backbone_resources.tiers import build_stream
from backbone_tests.resources.stream.conftest import KAFKA_TEST_CONSUMER, KAFKA_TEST_PRODUCER

GROUP = "trading-runtime"


def streaming(settings: BackboneSettings, request: pytest.FixtureRequest) -> BackboneSettings:
    """``settings`` with streaming on a fresh topic: Kafka (the session broker) on institutional."""
    stream = StreamSettings(
        streaming_enabled=True,
        policy=StreamPolicy(
            topic=f"test.daily-bars.{secrets.token_hex(4)}", partitions=3, consumer_groups=[GROUP], lag_warn=0
        ),
        kafka=KafkaSettings(
            replication_factor=1,
            topic_config={"cleanup.policy": "delete"},
            producer_config=KAFKA_TEST_PRODUCER,
            consumer_config=KAFKA_TEST_CONSUMER,
        ),
    )
    update: dict[str, object] = {"stream": stream}
    if settings.tier().tier == "institutional":
        update["kafka_bootstrap"] = request.getfixturevalue("kafka_bootstrap")
    return settings.model_copy(update=update)


def read_topic(settings: BackboneSettings, group: str) -> list:
    """Every bar the bridge hands over for a new group (copies dropped), in arrival order."""
    seen: list = []
    Bridge(build_stream(settings), group, seen.extend).run(idle_timeout_s=4)
    return seen
