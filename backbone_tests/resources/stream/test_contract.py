"""The stream contract, run on every backend: topic provisioning, confirmed publishing, per-key order,
consumer groups with commit-after-handler and exact lag (the bridge over every backend: domain/test_bridge.py)."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd

from backbone_domain.bar_messages import decode
from backbone_domain.health import GroupLag
from backbone_domain.streaming import bar_messages
from backbone_tests.builders import daily_bars


def test_topic_is_created_once_and_reported(stream):
    first = stream.ensure_topic()
    assert (first.created, first.partitions, first.mismatches) == (True, 3, ())
    again = stream.ensure_topic()
    assert (again.created, again.partitions, again.mismatches) == (False, 3, ())


def test_a_different_shape_is_reported_not_changed(stream):
    stream.ensure_topic()
    other = stream.model_copy(update={"policy": stream.policy.model_copy(update={"partitions": 5})})
    report = other.ensure_topic()
    assert not report.created
    assert report.partitions == 3
    assert any("partitions" in m for m in report.mismatches)


def test_publish_confirms_every_message_and_keeps_per_symbol_order(stream):
    stream.ensure_topic()
    bars = daily_bars()
    report = stream.publish(bar_messages(bars, "ingest"))
    assert report.delivered == len(bars)
    assert report.bytes > 0
    assert sum(last - first + 1 for first, last in report.offsets.values()) == len(bars)

    with stream.consumer("order") as consumer:
        got = _drain(consumer, len(bars))
    assert len(got) == len(bars)
    by_symbol: dict[str, list[dt.datetime]] = {}
    partition_of: dict[str, set[int]] = {}
    for record in got:
        bar = decode(record.value, record.headers)
        assert record.key == bar.symbol.encode()
        assert record.headers["schema_version"] == b"1"
        assert record.headers["origin"] == b"ingest"
        by_symbol.setdefault(bar.symbol, []).append(bar.ts)
        partition_of.setdefault(bar.symbol, set()).add(record.partition)
    assert all(ts == sorted(ts) and len(ts) == 20 for ts in by_symbol.values())
    assert all(len(parts) == 1 for parts in partition_of.values())


def test_lag_is_end_minus_committed_and_commits_only_when_asked(stream):
    stream.ensure_topic()
    bars = daily_bars(days=10)
    stream.publish(bar_messages(bars, "ingest"))
    assert sum(p.lag for p in stream.lag("lagging")) == len(bars)
    assert all(p.committed is None for p in stream.lag("lagging"))

    with stream.consumer("lagging") as consumer:
        records = _drain(consumer, len(bars))
        consumer.commit(records[:12])  # partial: only the records handled so far
    committed_now = {p.partition: p for p in stream.lag("lagging")}
    handled = {}
    for r in records[:12]:
        handled[r.partition] = max(handled.get(r.partition, -1), r.offset + 1)
    for partition, offset in handled.items():
        assert committed_now[partition].committed == offset
    assert sum(p.lag for p in committed_now.values()) == len(bars) - 12


def _drain(consumer, expected: int, rounds: int = 30) -> list:
    got: list = []
    for _ in range(rounds):
        got.extend(consumer.poll(500, 1.0))
        if len(got) >= expected:
            break
    return got


def test_a_poll_returns_what_has_arrived_without_waiting_to_fill_up(stream):
    """``poll(n, timeout)`` waits for the first record only: a trickle (intraday bars) is not held until n
    records or the timeout. Kafka's own ``consume(n, timeout)`` would wait the whole timeout here."""
    stream.ensure_topic()
    bars = daily_bars(days=2)
    stream.publish(bar_messages(bars, "ingest"))
    with stream.consumer("trickle") as consumer:
        got: list = []
        for _ in range(30):  # the group's join comes first on a broker
            began = time.monotonic()
            got.extend(consumer.poll(500, 8.0))
            if got:
                break
        waited = time.monotonic() - began
    assert 0 < len(got) <= len(bars)
    assert waited < 4.0, f"the poll that returned {len(got)} record(s) waited {waited:.1f} s of its 8 s timeout"


def test_lag_in_seconds_is_the_wait_of_the_oldest_unconsumed_message(stream):
    """A known backlog: the first bars published ~1 s before the second; once the first are consumed, each
    partition's oldest unconsumed message is one of the second, so the wait drops to about their age."""
    stream.ensure_topic()
    first, second = daily_bars(days=4), daily_bars(days=4, ingested="2024-03-02T12:00:00")
    first_from, first_to = _published(stream, first)
    time.sleep(1.0)
    second_from, second_to = _published(stream, second)

    now = dt.datetime.now(dt.UTC)
    backlog = GroupLag.measure("slow", stream.lag("slow"), now)
    assert backlog.total == len(first) + len(second)
    assert backlog.max_seconds is not None
    assert _age(now, first_to) - TOLERANCE_S <= backlog.max_seconds <= _age(now, first_from) + TOLERANCE_S
    assert backlog.max_seconds >= 1.0 - TOLERANCE_S

    with stream.consumer("slow") as consumer:  # one member throughout: a group join costs seconds on a broker
        records = _drain(consumer, len(first) + len(second))
        # the same symbols, so each partition holds the first bars before the second
        consumer.commit([r for r in records if decode(r.value, r.headers).ingested_at.day == 1])
        now = dt.datetime.now(dt.UTC)
        behind = GroupLag.measure("slow", stream.lag("slow"), now)
        assert behind.total == len(second)
        assert behind.max_seconds is not None
        assert _age(now, second_to) - TOLERANCE_S <= behind.max_seconds <= _age(now, second_from) + TOLERANCE_S
        assert behind.max_seconds < _age(now, first_to) - 0.9  # the second bars' wait, not the first's
        assert {p.partition for p in behind.by_partition if p.messages} == {r.partition for r in records}

        consumer.commit(records)
    caught_up = GroupLag.measure("slow", stream.lag("slow"), dt.datetime.now(dt.UTC))
    assert (caught_up.total, caught_up.max_seconds) == (0, 0.0)


def test_a_replay_of_old_bars_lags_by_its_publish_time_not_by_the_bars_dates(stream):
    """Bars of 2019 replayed now wait seconds, not years: event time is when a message was published."""
    stream.ensure_topic()
    old = daily_bars(days=5)
    old = old.assign(ts=old["ts"] - pd.DateOffset(years=5))
    published_from, _ = _published(stream, old, origin="replay")
    now = dt.datetime.now(dt.UTC)
    replayed = GroupLag.measure("runtime", stream.lag("runtime"), now)
    assert replayed.total == len(old)
    assert replayed.max_seconds is not None
    assert replayed.max_seconds <= _age(now, published_from) + TOLERANCE_S < 60


TOLERANCE_S = 0.05  # Kafka keeps milliseconds; the rest is the time between two reads of the same clock


def _published(stream, bars, origin: str = "ingest") -> tuple[dt.datetime, dt.datetime]:
    """Publish ``bars``; the clock just before and just after, so each message's event time lies between."""
    before = dt.datetime.now(dt.UTC)
    stream.publish(bar_messages(bars, origin))
    return before, dt.datetime.now(dt.UTC)


def _age(now: dt.datetime, then: dt.datetime) -> float:
    return (now - then).total_seconds()
