"""publish_range end to end over a real store (prefetched, ramped chunks) and the producer's full-queue path."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets

import pytest
from confluent_kafka import Producer

from backbone_domain.bar_messages import decode
from backbone_domain.bars import empty_rejected
from backbone_domain.streaming import bar_messages, publish_range, ramped_chunks
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_resources.stream import kafka_stream
from backbone_resources.stream.settings import StreamPolicy
from backbone_tests.builders import daily_bars
from backbone_tests.resources.stream.conftest import kafka_stream as make_kafka_stream
from backbone_tests.resources.stream.test_contract import _drain

JAN1 = dt.date(2024, 1, 1)


def test_ramped_chunks_cover_the_range_in_order_and_never_exceed_the_chunk():
    chunks = list(ramped_chunks(JAN1, dt.date(2024, 3, 31), 16))
    assert [(b - a).days + 1 for a, b in chunks] == [2, 4, 8, 16, 16, 16, 16, 13]
    assert (chunks[0][0], chunks[-1][1]) == (JAN1, dt.date(2024, 3, 31))
    assert all(nxt[0] == prev[1] + dt.timedelta(days=1) for prev, nxt in itertools.pairwise(chunks))
    assert [(b - a).days for a, b in ramped_chunks(JAN1, dt.date(2024, 1, 5), 1)] == [0] * 5
    with pytest.raises(ValueError, match="before"):
        list(ramped_chunks(JAN1, dt.date(2023, 12, 31), 5))


def _store(tmp_path, days: int) -> DuckDBBarStore:
    store = DuckDBBarStore(path=str(tmp_path / "store.duckdb"))
    store.write_validated(JAN1, JAN1 + dt.timedelta(days=days - 1), daily_bars(days=days), empty_rejected())
    return store


def test_publish_range_delivers_every_stored_bar_once_in_symbol_order(stream, tmp_path):
    """Nine ramped chunks (1, 2, 4, 8, then 10 days; two read ahead in parallel) must arrive complete and in
    order per symbol."""
    store = _store(tmp_path, days=60)
    stream.ensure_topic()

    report = publish_range(stream, store, JAN1, JAN1 + dt.timedelta(days=59), "replay", chunk_days=10)

    stored = store.read_bars(JAN1, JAN1 + dt.timedelta(days=59))
    assert report.delivered == len(stored) == 180
    assert report.bytes == next(bar_messages(store.read_bars_table(JAN1, JAN1 + dt.timedelta(days=59)), "x")).size()
    with stream.consumer("publish-order") as consumer:
        bars = [decode(r.value, r.headers) for r in _drain(consumer, len(stored))]
    assert {b.origin for b in bars} == {"replay"}
    for symbol, group in stored.groupby("symbol"):
        assert [b.ts for b in bars if b.symbol == symbol] == list(group["ts"].dt.to_pydatetime())


def test_a_failing_read_fails_the_publish(tmp_path):
    from backbone_resources.stream.local_log import LocalLogStream

    store = _store(tmp_path, days=30)

    class Failing:
        def read_bars_table(self, start, end, symbols=None):
            if start >= dt.date(2024, 1, 20):
                raise RuntimeError("store went away")
            return store.read_bars_table(start, end, symbols)

    stream = LocalLogStream(path=str(tmp_path / "log.sqlite"), policy=StreamPolicy(topic="t", partitions=3))
    stream.ensure_topic()
    with pytest.raises(RuntimeError, match="store went away"):
        publish_range(stream, Failing(), JAN1, dt.date(2024, 1, 30), "ingest", chunk_days=4)  # type: ignore[arg-type]


@pytest.mark.kafka
def test_a_full_producer_queue_loses_and_reorders_nothing(kafka_bootstrap, monkeypatch):
    """A local queue of 5 messages makes produce() raise BufferError again and again inside the map loop; the
    record it refused must be produced again, in place."""
    refused = []

    class Spy(Producer):
        def produce(self, *args, **kwargs):
            try:
                return super().produce(*args, **kwargs)
            except BufferError:
                refused.append(args[1])
                raise

    monkeypatch.setattr(kafka_stream, "Producer", Spy)
    stream = make_kafka_stream(
        kafka_bootstrap,
        f"test.full.{secrets.token_hex(4)}",
        producer_config={"batch.num.messages": "1", "linger.ms": "0", "queue.buffering.max.messages": "5"},
    )
    stream.ensure_topic()
    bars = daily_bars(days=40)

    report = stream.publish(bar_messages(bars, "ingest"))

    assert len(refused) > 5  # the path under test was taken
    assert report.delivered == len(bars)
    with stream.consumer("full-queue") as consumer:
        got = [decode(r.value, r.headers) for r in _drain(consumer, len(bars))]
    assert len(got) == len({(b.symbol, b.ts) for b in got}) == len(bars)  # no loss, no copy
    for symbol in {b.symbol for b in got}:
        ts = [b.ts for b in got if b.symbol == symbol]
        assert ts == sorted(ts)
