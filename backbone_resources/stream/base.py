"""The stream seam: an append-only, partitioned, keyed log with consumer-group offsets (Kafka semantics).

Two backends implement it with the same contract tests (``backbone_tests/resources/stream/test_contract.py``):
``kafka_stream`` (a Kafka cluster) and ``local_log`` (a durable SQLite file for the bootstrap tier), plus
``DisabledStream`` when the feature flag turns streaming off. Assets and the consumer bridge only see this.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dagster import ConfigurableResource
from pydantic import Field

from backbone_domain.message_batch import MessageBatch
from backbone_resources.probe import Probe
from backbone_resources.stream.settings import StreamPolicy
from backbone_resources.unavailable import StreamUnavailable

__all__ = [
    "IntradayDisabled",
    "MessageBatch",
    "PartitionLag",
    "PublishReport",
    "Record",
    "StreamConsumer",
    "StreamDisabled",
    "StreamResource",
    "StreamUnavailable",
    "TopicReport",
]


class StreamDisabled(RuntimeError):
    """Streaming is off (BACKBONE_STREAMING_ENABLED=false) and an operation needs it."""


class IntradayDisabled(StreamDisabled):
    """Intraday bars are off (BACKBONE_INTRADAY_ENABLED=false, the default) and an operation needs them."""


@dataclass(frozen=True)
class Record:
    """One record as consumed, with where it sits in the log."""

    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: dict[str, bytes]


@dataclass
class PublishReport:
    delivered: int = 0
    bytes: int = 0
    # partition -> [first offset, last offset] written by this publish
    offsets: dict[int, list[int]] = field(default_factory=dict)
    # partition -> end offset just before the first message was sent (``StreamResource.end_offsets``)
    end_before: dict[int, int] = field(default_factory=dict)

    def add(self, partition: int, offset: int, size: int) -> None:
        self.delivered += 1
        self.bytes += size
        span = self.offsets.setdefault(partition, [offset, offset])
        span[0], span[1] = min(span[0], offset), max(span[1], offset)


@dataclass(frozen=True)
class TopicReport:
    topic: str
    created: bool
    partitions: int
    mismatches: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    end_offset: int
    committed: int | None  # None: the group never committed on this partition
    # Event time of the oldest unconsumed message (the one at the committed offset): when it was published, as
    # the log stamped it. None when nothing is unconsumed, or its time could not be read in time.
    oldest_unconsumed_at: dt.datetime | None = None

    @property
    def lag(self) -> int:
        return self.end_offset - (self.committed or 0)


class StreamConsumer(ABC):
    """A group member reading the topic. Offsets move only when ``commit`` is called."""

    @abstractmethod
    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to ``max_records`` records in partition order, waiting at most ``timeout_s`` for the first."""

    @abstractmethod
    def commit(self, records: Iterable[Record]) -> None:
        """Synchronously commit, per partition, the offset after the highest of ``records``."""

    @abstractmethod
    def close(self) -> None:
        """Leave the group (no commit)."""

    def assigned(self) -> bool:
        """Whether the group has given this member its partitions yet (a broker's group join takes seconds);
        a backend without groups is assigned from the start."""
        return True


class StreamResource(ConfigurableResource, ABC):
    """The topic stored bars are mirrored to. Offsets and lag follow Apache Kafka's meaning.

    ``policy.consumer_groups``, ``policy.lag_warn`` and ``policy.lag_warn_s`` drive the ``kafka_consumer_lag`` check.
    """

    policy: StreamPolicy = Field(default_factory=StreamPolicy, description="BACKBONE_KAFKA_TOPIC, _PARTITIONS, ...")

    kinds: ClassVar[tuple[str, ...]] = ()  # what the UI's kind tags name for assets this backend serves

    # The policy's knobs under the names the backends, the bridge and the checks read.
    @property
    def topic(self) -> str:
        return self.policy.topic

    @property
    def partitions(self) -> int:
        return self.policy.partitions

    @property
    def consumer_groups(self) -> list[str]:
        return self.policy.consumer_groups

    @property
    def lag_warn(self) -> int:
        return self.policy.lag_warn

    @property
    def lag_warn_s(self) -> float:
        return self.policy.lag_warn_s

    @property
    def enabled(self) -> bool:
        return True

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend, endpoint, topic and security protocol, for metadata. Never a secret."""

    @abstractmethod
    def probe(self) -> Probe:
        """Reachable (or disabled) and a version; a cheap metadata call, never raising for an unreachable log."""

    @abstractmethod
    def ensure_topic(self) -> TopicReport:
        """Create the topic when missing (if auto-create is on); report mismatches with the configured shape.

        Raises StreamUnavailable when the topic is missing and auto-create is off.
        """

    @abstractmethod
    def publish(self, batches: Iterable[MessageBatch]) -> PublishReport:
        """Append every record of ``batches`` (same key, same partition, in order) and return only once every
        one is acknowledged by the log (acks=all); raises StreamUnavailable if any delivery failed or timed out.

        Batches are consumed lazily, so reading the next one overlaps with delivering the previous ones."""

    @abstractmethod
    def end_offsets(self, read_back: bool = False) -> dict[int, int]:
        """Each partition's end offset (the offset the next record gets); empty when the topic does not exist.

        ``read_back=True`` also reads each partition's tail, from the reported end - 1 on, and extends the end to
        the offset after the last record read there (a broker may report an end that lags the records it holds).
        ``streaming.prove_publish`` uses it when the reported ends fall short of what was delivered.
        """

    @abstractmethod
    def consumer(self, group: str) -> AbstractContextManager[StreamConsumer]:
        """A consumer in ``group`` starting at the group's committed offsets (earliest when none)."""

    @abstractmethod
    def lag(self, group: str) -> list[PartitionLag]:
        """Per-partition end offset and committed offset of ``group``, and the event time of the oldest message
        the group has not consumed (``PartitionLag.oldest_unconsumed_at``, UTC; None when caught up); empty when
        the topic does not exist.

        Event time is the publish time the log keeps with each record (Kafka's message timestamp, CreateTime set
        by the producer or LogAppendTime by the broker; the local log's append time), never a field of the
        value: a replay republishing 2019 bars makes messages published now. Reading it costs at most one
        record per lagging partition and a bounded wait; a time not read in that wait is None."""
