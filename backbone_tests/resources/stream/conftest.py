"""Every stream backend under the same tests: the bootstrap local log and Kafka (tansu, or docker/'s broker).

The Kafka clients get the TEST-side settings tansu needs (TOOLCHAIN.md): one record per producer batch, so its
high watermark (and so lag) is exact, and a short session timeout, so a new group is assigned in seconds: tansu
assigns a new group's partitions after half the session timeout, so on a tansu broker this suite started it is
2 s (assigned in ~1 s); Apache Kafka refuses less than its group.min.session.timeout.ms (6 s by default).
"""

from __future__ import annotations

import secrets

import pytest

from backbone_resources.stream.base import StreamResource
from backbone_resources.stream.settings import KafkaSettings, StreamPolicy
from backbone_tests.fixtures import tansu

KAFKA_TEST_PRODUCER = {"batch.num.messages": "1", "linger.ms": "0"}
KAFKA_TEST_CONSUMER = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
TANSU_TEST_CONSUMER = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


def consumer_config_for(bootstrap: str) -> dict[str, str]:
    """The consumer settings for the broker at ``bootstrap``: the faster ones on a tansu this suite started."""
    return TANSU_TEST_CONSUMER if bootstrap in tansu.RUNNING else KAFKA_TEST_CONSUMER


def kafka_stream(bootstrap: str, topic: str, **fields: object) -> StreamResource:
    from backbone_resources.stream.kafka_stream import KafkaStream

    options: dict[str, object] = {
        "replication_factor": 1,
        "producer_config": KAFKA_TEST_PRODUCER,
        "consumer_config": consumer_config_for(bootstrap),
        "topic_config": {"cleanup.policy": "delete"},
        **fields,
    }
    return KafkaStream(
        bootstrap=bootstrap,
        policy=StreamPolicy(topic=topic, partitions=3),
        kafka=KafkaSettings(**options),  # type: ignore[arg-type]
    )


@pytest.fixture(params=["local_log", pytest.param("kafka", marks=pytest.mark.kafka)])
def stream(request, tmp_path) -> StreamResource:
    topic = f"test.bars.{secrets.token_hex(4)}"
    if request.param == "kafka":
        return kafka_stream(request.getfixturevalue("kafka_bootstrap"), topic)
    from backbone_resources.stream.local_log import LocalLogStream

    return LocalLogStream(path=str(tmp_path / "stream.sqlite"), policy=StreamPolicy(topic=topic, partitions=3))
