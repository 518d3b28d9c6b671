"""Settings with streaming on, per tier, and a reader that collects everything on the topic."""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from backbone_domain.bridge import Bridge
from backbone_resources.settings import BackboneSettings
from backbone_resources.stream.settings import KafkaSettings, StreamPolicy, StreamSettings
from backbone_resources.tiers import build_stream
from backbone_tests.resources.stream.conftest import KAFKA_TEST_CONSUMER, KAFKA_TEST_PRODUCER, consumer_config_for

GROUP = "trading-runtime"


def streaming(settings: BackboneSettings, request: pytest.FixtureRequest) -> BackboneSettings:
    """``settings`` with streaming on a fresh topic: Kafka (the session broker) on institutional."""
    institutional = settings.tier().tier == "institutional"
    bootstrap = request.getfixturevalue("kafka_bootstrap") if institutional else None
    stream = StreamSettings(
        streaming_enabled=True,
        policy=StreamPolicy(
            topic=f"test.daily-bars.{secrets.token_hex(4)}", partitions=3, consumer_groups=[GROUP], lag_warn=0
        ),
        kafka=KafkaSettings(
            replication_factor=1,
            topic_config={"cleanup.policy": "delete"},
            producer_config=KAFKA_TEST_PRODUCER,
            consumer_config=consumer_config_for(bootstrap) if bootstrap else KAFKA_TEST_CONSUMER,
        ),
    )
    update: dict[str, object] = {"stream": stream}
    if bootstrap:
        update["kafka_bootstrap"] = bootstrap
    return settings.model_copy(update=update)


def read_topic(settings: BackboneSettings, group: str, expect: int) -> list:
    """Every bar the bridge hands over for ``group`` (copies dropped), in arrival order.

    Everything is on the topic before the read starts, so it arrives as one run of polls: the bridge stops once
    ``expect`` bars were handed over and another second brought nothing, where waiting for a fixed idle time
    would also count the group's join. An extra copy would arrive in that second; too few fail on the deadline.
    """
    seen: list = []
    bridge = Bridge(build_stream(settings), group, seen.extend)

    def stop_when_read() -> None:
        deadline, count, still_since = time.monotonic() + 60, -1, time.monotonic()
        while time.monotonic() < deadline:
            if len(seen) != count:
                count, still_since = len(seen), time.monotonic()
            elif count >= expect and time.monotonic() - still_since >= 1.0:
                break
            time.sleep(0.05)
        bridge.stop()

    watcher = threading.Thread(target=stop_when_read, daemon=True)
    watcher.start()
    bridge.run()
    watcher.join()
    return seen
