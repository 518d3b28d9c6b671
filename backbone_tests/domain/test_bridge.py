"""The bridge over every stream backend: each bar handed once after copies and stale versions, commits only
after the handler succeeded."""

from __future__ import annotations

import pytest

from backbone_domain.bridge import Bridge
from backbone_domain.streaming import bar_messages
from backbone_tests.builders import daily_bars


def test_bridge_hands_each_bar_once_after_copies_and_stale_versions(stream):
    stream.ensure_topic()
    old = daily_bars(days=10, ingested="2024-03-01T12:00:00")
    new = daily_bars(days=10, ingested="2024-03-02T12:00:00")
    stream.publish(bar_messages(old, "ingest"))
    stream.publish(bar_messages(new, "ingest"))
    stream.publish(bar_messages(new, "replay"))  # a replay: copies of the newest versions
    stream.publish(bar_messages(old, "replay"))  # an out-of-date copy arriving late

    seen: list = []
    bridge = Bridge(stream, "bridge", seen.extend, batch_size=50)
    report = bridge.run(idle_timeout_s=4)
    assert report.received == 4 * len(old)
    # each bar once at its old version, once at its newer one; every copy dropped
    versions = [(b.symbol, b.ts, b.ingested_at) for b in seen]
    assert len(versions) == len(set(versions)) == 2 * len(old)
    assert sum(p.lag for p in stream.lag("bridge")) == 0


def test_bridge_commits_nothing_when_the_handler_fails(stream):
    stream.ensure_topic()
    bars = daily_bars(days=5)
    stream.publish(bar_messages(bars, "ingest"))

    def broken(_bars):
        raise RuntimeError("handler down")

    with pytest.raises(RuntimeError, match="handler down"):
        Bridge(stream, "fragile", broken).run(idle_timeout_s=4)
    assert sum(p.lag for p in stream.lag("fragile")) == len(bars)

    seen: list = []
    Bridge(stream, "fragile", seen.extend).run(idle_timeout_s=4)
    assert len(seen) == len(bars)
    assert sum(p.lag for p in stream.lag("fragile")) == 0
