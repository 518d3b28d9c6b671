"""The bridge over every stream backend: each bar handed once after copies and stale versions, commits only
after the handler succeeded."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pandas as pd
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
    report = bridge.run(idle_timeout_s=1.5)  # idle counts from the assignment: the join is not idle
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
        Bridge(stream, "fragile", broken).run(idle_timeout_s=1.5)
    assert sum(p.lag for p in stream.lag("fragile")) == len(bars)

    seen: list = []
    Bridge(stream, "fragile", seen.extend).run(idle_timeout_s=1.5)
    assert len(seen) == len(bars)
    assert sum(p.lag for p in stream.lag("fragile")) == 0


class _JoiningConsumer:
    """Unassigned for the first ``join_polls`` polls (a slow group join), then assigned; never a record."""

    def __init__(self, join_polls: int) -> None:
        self.polls, self.join_polls = 0, join_polls

    def poll(self, max_records: int, timeout_s: float) -> list:
        self.polls += 1
        time.sleep(0.05)
        return []

    def assigned(self) -> bool:
        return self.polls > self.join_polls

    def commit(self, records) -> None:
        raise AssertionError("nothing to commit")

    def close(self) -> None:
        pass


class _JoiningStream:
    def __init__(self, consumer: _JoiningConsumer) -> None:
        self._consumer = consumer

    @contextmanager
    def consumer(self, group: str):
        yield self._consumer


def test_idle_time_counts_from_the_assignment_not_from_the_join() -> None:
    joining = _JoiningConsumer(join_polls=10)  # a join of ~0.5 s, longer than the idle timeout

    report = Bridge(_JoiningStream(joining), "slow-join", list).run(idle_timeout_s=0.2)  # type: ignore[arg-type]

    assert report.received == 0
    assert joining.polls >= joining.join_polls + 3  # it waited out the join, then idled 0.2 s after the assignment


def test_the_cache_handler_replaces_a_cached_bar_with_a_newer_version_and_keeps_the_window_whole(tmp_path) -> None:
    from backbone_domain.bar_messages import decode, encode_bars, headers
    from backbone_domain.bars import BAR_DTYPES
    from backbone_domain.bridge import CacheInvalidator
    from backbone_resources.cache.disk_cache import DiskHotCache
    from backbone_resources.cache.settings import CachePolicy

    cache = DiskHotCache(directory=str(tmp_path / "hc"), policy=CachePolicy(bars=10))
    try:
        bars = daily_bars(days=10, ingested="2024-03-01T12:00:00")
        cache.replace_symbols(bars)
        symbol = bars["symbol"].iloc[0]
        mine = bars[bars["symbol"] == symbol].reset_index(drop=True)
        corrected = mine.iloc[[4]].assign(
            close=mine["close"].iloc[4] + 1, ingested_at=mine["ingested_at"].iloc[4] + pd.Timedelta(hours=1)
        )
        older = mine.iloc[[5]].assign(close=-1.0, ingested_at=mine["ingested_at"].iloc[5] - pd.Timedelta(days=1))
        _, values = encode_bars(pd.concat([corrected, older]))
        CacheInvalidator(cache)([decode(v, headers("ingest")) for v in values])

        expected = mine.copy()
        expected.loc[4, ["close", "ingested_at"]] = corrected[["close", "ingested_at"]].iloc[0].to_numpy()
        pd.testing.assert_frame_equal(cache.last_bars(symbol, len(mine)), expected.astype(BAR_DTYPES))
    finally:
        cache.close()
