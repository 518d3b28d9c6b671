"""The institutional stream: an Apache Kafka topic through confluent-kafka (librdkafka).

Producers are idempotent with ``acks=all`` and ``publish`` returns only after every delivery report came back
without error, so an asset never reports bars as streamed that the brokers did not acknowledge. Consumers never
auto-commit: the bridge commits after its handler succeeded. Everything follows Kafka's semantics; broker
quirks are handled by the tests' client overrides, not here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from operator import length_hint
from typing import Any, ClassVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec, ResourceType
from pydantic import Field

from backbone_domain.redaction import redact
from backbone_resources.env import secret
from backbone_resources.probe import Probe, probing
from backbone_resources.stream.base import (
    MessageBatch,
    PartitionLag,
    PublishReport,
    Record,
    StreamConsumer,
    StreamResource,
    StreamUnavailable,
    TopicReport,
)
from backbone_resources.stream.settings import KafkaSettings

SASL_PASSWORD = "BACKBONE_KAFKA_SASL_PASSWORD"


class KafkaStream(StreamResource):
    bootstrap: str = Field(description="BACKBONE_KAFKA_BOOTSTRAP, host:port[,host:port]")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="BACKBONE_KAFKA_* client options")

    kinds: ClassVar[tuple[str, ...]] = ("kafka",)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "kafka",
            "bootstrap": self.bootstrap,
            "topic": self.topic,
            "security_protocol": self.kafka.security_protocol,
        }

    def probe(self) -> Probe:
        def brokers() -> str:
            admin = self._admin()
            meta = _call(lambda: admin.list_topics(timeout=min(5.0, self.kafka.request_timeout_s)), self.bootstrap)
            return f"{len(meta.brokers)} broker(s)"

        return probing("kafka", self.bootstrap, brokers)

    def _common(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.kafka.security_protocol,
            "client.id": self.kafka.client_id,
        }
        optional = {
            "sasl.mechanism": self.kafka.sasl_mechanism,
            "sasl.username": self.kafka.sasl_username,
            "sasl.password": secret(self.kafka.sasl_password, self.kafka.sasl_password_file, SASL_PASSWORD),
            "ssl.ca.location": self.kafka.ssl_ca_location,
            "ssl.certificate.location": self.kafka.ssl_certificate_location,
            "ssl.key.location": self.kafka.ssl_key_location,
        }
        conf.update({k: v for k, v in optional.items() if v})
        conf.update(self.kafka.config)
        return conf

    def producer_conf(self) -> dict[str, Any]:
        """The producer's settings: idempotent, acks=all, then the operator's overrides."""
        return {
            **self._common(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "compression.type": "lz4",
            "delivery.timeout.ms": int(self.kafka.delivery_timeout_s * 1000),
            **self.kafka.producer_config,
        }

    def _admin(self) -> AdminClient:
        return AdminClient(self._common())

    def ensure_topic(self) -> TopicReport:
        wait = self.kafka.request_timeout_s
        # Metadata of all topics: asking for one by name lets a broker with auto-create on create it unshaped.
        admin = self._admin()
        meta = _call(lambda: admin.list_topics(timeout=wait), self.bootstrap)
        found = meta.topics.get(self.topic)
        if found is None or found.error is not None:
            if not self.kafka.auto_create_topic:
                raise StreamUnavailable(
                    f"topic {self.topic} does not exist and BACKBONE_KAFKA_AUTO_CREATE_TOPIC is false"
                )
            new = NewTopic(
                self.topic, self.partitions, self.kafka.replication_factor, config=dict(self.kafka.topic_config)
            )
            try:
                admin.create_topics([new], request_timeout=wait)[self.topic].result(wait)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # a concurrent run created it
                    raise StreamUnavailable(f"cannot create topic {self.topic}: {redact(str(exc))}") from None
            return TopicReport(self.topic, True, self.partitions)
        return TopicReport(self.topic, False, len(found.partitions), self._mismatches(admin, found))

    def _mismatches(self, admin: AdminClient, found: Any) -> tuple[str, ...]:
        """Differences between the existing topic and the configured shape; reported, never altered."""
        wait = self.kafka.request_timeout_s
        problems = []
        if len(found.partitions) != self.partitions:
            problems.append(f"partitions: topic has {len(found.partitions)}, configured {self.partitions}")
        replicas = {len(p.replicas) for p in found.partitions.values()}
        want = self.kafka.replication_factor
        if replicas and replicas != {want}:
            problems.append(f"replication_factor: topic has {sorted(replicas)}, configured {want}")
        if self.kafka.topic_config:
            resource = ConfigResource(ResourceType.TOPIC, self.topic)
            try:
                entries = admin.describe_configs([resource], request_timeout=wait)[resource].result(wait)
            except KafkaException as exc:
                return (*problems, f"topic configs could not be read: {exc}")
            for name, want in sorted(self.kafka.topic_config.items()):
                have = entries[name].value if name in entries else None
                if have != want:
                    problems.append(f"{name}: topic has {have}, configured {want}")
        return tuple(problems)

    def publish(self, batches: Iterable[MessageBatch]) -> PublishReport:
        """Success reports are switched off (``delivery.report.only.error``): librdkafka still reports every
        failed message, so no error report + an empty queue after ``flush`` = every message acknowledged, without
        a Python callback per message. Offsets come from the end offsets before and after."""
        errors: list[str] = []

        def failed(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        before = self.end_offsets()
        conf = {**self.producer_conf(), "delivery.report.only.error": True, "on_delivery": failed}
        producer = Producer(conf)
        report = PublishReport(end_before=before)
        sent = 0
        for batch in batches:
            _produce_all(producer, self.topic, batch)
            sent += len(batch)
            report.bytes += batch.size()
            producer.poll(0)
            if errors:
                break
        remaining = producer.flush(self.kafka.delivery_timeout_s)
        if errors or remaining:
            raise StreamUnavailable(
                f"{sent - remaining - len(errors)} of {sent} messages confirmed on {self.topic} at {self.bootstrap} "
                f"({remaining} pending; first error: {redact(str(errors[0])) if errors else 'none'})"
            )
        report.delivered = sent
        after = self.end_offsets()
        # first/last offset per partition written while this publish ran (another producer's too, if any)
        report.offsets = {p: [before.get(p, 0), end - 1] for p, end in sorted(after.items()) if end > before.get(p, 0)}
        return report

    def end_offsets(self, read_back: bool = False) -> dict[int, int]:
        """The high watermarks, in one ListOffsets request (no consumer, no group); read back on request."""
        reported = self._high_watermarks()
        return self._read_tails(reported) if read_back else reported

    def _high_watermarks(self) -> dict[int, int]:
        """Each partition's end offset (high watermark), in one ListOffsets request: no consumer, no group."""
        wait = self.kafka.request_timeout_s
        admin = self._admin()
        meta = _call(lambda: admin.list_topics(timeout=wait), self.bootstrap)
        found = meta.topics.get(self.topic)
        if found is None or found.error is not None:
            return {}
        latest = {TopicPartition(self.topic, p): OffsetSpec.latest() for p in sorted(found.partitions)}
        futures = _call(lambda: admin.list_offsets(latest, request_timeout=wait), self.bootstrap)
        return {tp.partition: _call(lambda f=f: f.result(wait).offset, self.bootstrap) for tp, f in futures.items()}

    def _read_tails(self, ends: dict[int, int]) -> dict[int, int]:
        """``ends`` extended past the last record read from each partition's reported end - 1: assigned
        partitions, no group membership, nothing committed. A partition ends at end-of-partition or an error."""
        tails = [TopicPartition(self.topic, p, end - 1) for p, end in sorted(ends.items()) if end > 0]
        if not tails:
            return dict(ends)
        consumer = self._reader("publish-proof", "error")
        confirmed, reading = dict(ends), {tp.partition for tp in tails}
        deadline = time.monotonic() + self.kafka.request_timeout_s
        try:
            consumer.assign(tails)
            while reading and time.monotonic() < deadline:
                for msg in consumer.consume(1000, 1.0):
                    if msg.error() is not None:
                        reading.discard(msg.partition())  # end of partition, or no record at that offset
                        continue
                    p = msg.partition()
                    confirmed[p] = max(confirmed[p], msg.offset() + 1)
        finally:
            consumer.close()
        return confirmed

    def _reader(self, purpose: str, reset: str) -> Consumer:
        """A client that reads assigned partitions only: it never joins its group (the id is required by the
        client) and never commits; a partition ends at end-of-partition. ``reset``: where a missing offset goes."""
        return Consumer(
            {
                **self._common(),
                "group.id": f"{self.kafka.client_id}.{purpose}",
                **self.kafka.consumer_config,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": reset,
            }
        )

    @contextmanager
    def consumer(self, group: str) -> Iterator[StreamConsumer]:
        conf = {
            **self._common(),
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **self.kafka.consumer_config,
        }
        consumer = _KafkaConsumer(Consumer(conf), self.topic)
        try:
            yield consumer
        finally:
            consumer.close()

    def lag(self, group: str) -> list[PartitionLag]:
        wait = self.kafka.request_timeout_s
        consumer = Consumer({**self._common(), "group.id": group, "enable.auto.commit": False})
        try:
            meta = _call(lambda: consumer.list_topics(timeout=wait), self.bootstrap)
            found = meta.topics.get(self.topic)
            if found is None or found.error is not None:
                return []
            parts = [TopicPartition(self.topic, p) for p in sorted(found.partitions)]
            committed = _call(lambda: consumer.committed(parts, timeout=wait), self.bootstrap)
            lags = []
            for tp in committed:
                _, high = consumer.get_watermark_offsets(tp, timeout=wait, cached=False)
                lags.append(PartitionLag(tp.partition, high, tp.offset if tp.offset >= 0 else None))
        finally:
            consumer.close()
        behind = {p.partition: p.committed for p in lags if p.lag > 0}
        times = self._oldest_unconsumed_times(behind) if behind else {}
        return [replace(p, oldest_unconsumed_at=times.get(p.partition)) for p in lags]

    def _oldest_unconsumed_times(self, committed: dict[int, int | None]) -> dict[int, dt.datetime]:
        """The timestamp of the record at each partition's committed offset (the earliest record when the group
        never committed, or when retention removed the committed one): assigned partitions, no group membership,
        nothing committed, one record per partition, at most ``request_timeout_s``. A partition not read in
        that time is left out (its lag in seconds is unknown, never 0)."""
        start = [
            TopicPartition(self.topic, p, OFFSET_BEGINNING if at is None else at) for p, at in sorted(committed.items())
        ]
        consumer = self._reader("lag-probe", "earliest")
        found: dict[int, dt.datetime] = {}
        reading = set(committed)
        deadline = time.monotonic() + self.kafka.request_timeout_s
        try:
            consumer.assign(start)
            while reading and time.monotonic() < deadline:
                for msg in consumer.consume(len(reading), min(1.0, max(0.0, deadline - time.monotonic()))):
                    p = msg.partition()
                    if p not in reading:
                        continue
                    reading.discard(p)  # the first answer per partition: its record, its end, or an error
                    kind, millis = msg.timestamp() if msg.error() is None else (TIMESTAMP_NOT_AVAILABLE, 0)
                    if kind != TIMESTAMP_NOT_AVAILABLE:
                        found[p] = dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
                    consumer.pause([TopicPartition(self.topic, p)])  # one record is all this needs
        finally:
            consumer.close()
        return found


class _KafkaConsumer(StreamConsumer):
    def __init__(self, consumer: Consumer, topic: str) -> None:
        self._consumer = consumer
        self._topic = topic
        consumer.subscribe([topic])

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Waits for the first record only, then takes what the client has already fetched: librdkafka's
        ``consume(n, timeout)`` waits until it holds n records or the timeout ends, which held a trickle of
        intraday bars (1,000 a second, batches of 500) for half a second each (docs/benchmarks.md)."""
        first = self._consumer.consume(1, timeout_s)
        rest = self._consumer.consume(max_records - 1, 0) if first and max_records > 1 else []
        records = []
        for msg in [*first, *rest]:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise StreamUnavailable(f"consuming {self._topic}: {redact(str(err))}")
            records.append(
                Record(msg.partition(), msg.offset(), msg.key() or b"", msg.value() or b"", dict(msg.headers() or []))
            )
        return records

    def commit(self, records: Iterable[Record]) -> None:
        nxt: dict[int, int] = {}
        for r in records:
            nxt[r.partition] = max(nxt.get(r.partition, 0), r.offset + 1)
        if nxt:
            offsets = [TopicPartition(self._topic, p, o) for p, o in sorted(nxt.items())]
            self._consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        self._consumer.close()

    def assigned(self) -> bool:
        return bool(self._consumer.assignment())


def _produce_all(producer: Producer, topic: str, batch: MessageBatch) -> None:
    """Hand every record of ``batch`` to librdkafka, in order.

    ``map`` calls ``produce`` from C, with no Python bytecode per record. When the local queue is full,
    ``produce`` raises BufferError out of ``map`` after the record was taken from both iterators: it is the one
    just before what the iterators still hold. It is produced again once librdkafka has drained some of the queue,
    and ``map`` resumes with the rest, so order and completeness are kept.
    """
    produce = partial(producer.produce, topic, headers=batch.headers)
    values, keys = iter(batch.values), iter(batch.keys)
    while True:
        try:
            deque(map(produce, values, keys), maxlen=0)
            return
        except BufferError:
            at = len(batch) - length_hint(values) - 1
            while True:
                producer.poll(0.05)
                try:
                    produce(batch.values[at], batch.keys[at])
                    break
                except BufferError:
                    continue


def _call(fn: Any, bootstrap: str) -> Any:
    try:
        return fn()
    except KafkaException as exc:
        raise StreamUnavailable(f"Kafka at {bootstrap} (BACKBONE_KAFKA_BOOTSTRAP): {redact(str(exc))}") from None
