"""The read-through reader and the refresh, over a real disk cache and an in-memory store (plain Python)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import pytest

from backbone_domain.changes import Changes, since_watermark
from backbone_domain.hot_reader import apply_changes, read_last, read_on, refresh, stale_symbols, store_latest
from backbone_resources.cache.disk_cache import DiskHotCache
from backbone_resources.cache.redis_cache import RedisHotCache
from backbone_resources.cache.settings import CachePolicy, RedisSettings
from backbone_tests.builders import business_day_bars
from backbone_tests.fixtures.ports import free_port


class FrameStore:
    """The two BarStore reads the reader uses, over a frame; ``writes`` replaces bars as an upsert would."""

    def __init__(self, bars: pd.DataFrame) -> None:
        self.bars = bars

    def write(self, bars: pd.DataFrame) -> None:
        keep = ~self.bars.set_index(["symbol", "ts"]).index.isin(bars.set_index(["symbol", "ts"]).index)
        self.bars = pd.concat([self.bars[keep], bars]).sort_values(["symbol", "ts"], ignore_index=True)

    def read_bars(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        days = self.bars["ts"].dt.date
        mask = (days >= start) & (days <= end)
        if symbols is not None:
            mask &= self.bars["symbol"].isin(symbols)
        return self.bars[mask].sort_values(["symbol", "ts"], ignore_index=True)

    def latest_bar_dates(self) -> dict[str, dt.date]:
        return {s: ts.date() for s, ts in self.bars.groupby("symbol")["ts"].max().items()}


@pytest.fixture
def store() -> FrameStore:
    return FrameStore(business_day_bars(["EURUSD", "AAPL"], 400))


@pytest.fixture
def cache(tmp_path) -> DiskHotCache:
    made = DiskHotCache(directory=str(tmp_path / "hc"), policy=CachePolicy(bars=260))
    yield made
    made.close()


def test_store_latest_takes_each_symbols_newest_bars(store):
    latest = store_latest(store, ["EURUSD"], 260)
    pd.testing.assert_frame_equal(latest, store.bars[store.bars["symbol"] == "EURUSD"].tail(260).reset_index(drop=True))
    gappy = FrameStore(pd.concat([business_day_bars(["GAP"], 5, start="2010-01-01"), business_day_bars(["GAP"], 5)]))
    assert len(store_latest(gappy, ["GAP"], 8)) == 8  # widened past the usual window


def test_miss_reads_the_store_and_repopulates_then_hits(cache, store):
    first = read_last(cache, store, "EURUSD", 5)
    assert (first.served_by, first.note) == ("store", "cache miss; repopulated")
    second = read_last(cache, store, "EURUSD", 5)
    assert second.served_by == "cache"
    pd.testing.assert_frame_equal(first.bars, second.bars)
    on = read_on(cache, store, "EURUSD", first.bars["ts"].iloc[0].date())
    assert on.served_by == "cache"
    old = read_on(cache, store, "EURUSD", store.bars["ts"].iloc[0].date())
    assert (old.served_by, len(old.bars)) == ("store", 1)
    assert (cache.stats().hits, cache.stats().misses) == (2, 2)


def test_unreachable_cache_falls_back_to_the_store(store):
    down = RedisHotCache(url=f"redis://127.0.0.1:{free_port()}/0", redis=RedisSettings(connect_timeout_s=0.3))
    answer = read_last(down, store, "AAPL", 3)
    assert answer.served_by == "store"
    assert answer.note.startswith("cache unavailable")
    assert len(answer.bars) == 3
    assert len(read_on(down, store, "AAPL", answer.bars["ts"].iloc[-1].date()).bars) == 1


def test_backfill_correction_never_leaves_stale_bars(cache, store):
    refresh(cache, store, dt.date(2024, 1, 1), dt.date(2026, 1, 1), chunk_days=92)
    assert stale_symbols(cache, store) == {}
    cached_before = cache.last_bars("AAPL", 260)
    corrected = cached_before.iloc[-30:-20].assign(close=lambda f: f["close"] + 0.5)
    store.write(corrected)
    start, end = corrected["ts"].iloc[0].date(), corrected["ts"].iloc[-1].date()
    report = refresh(cache, store, start, end, chunk_days=3)
    # the partitions [start, end] hold both symbols' bars: both are invalidated and reloaded, nothing else
    assert (report.symbols, report.rewritten_bars, report.invalidated, report.written) == (2, 20, 20, 520)
    after = cache.last_bars("AAPL", 260).set_index("ts")
    assert (after.loc[corrected["ts"], "close"].to_numpy() == corrected["close"].to_numpy()).all()
    assert stale_symbols(cache, store) == {}


def test_stale_symbols_reports_a_cache_behind_the_store(cache, store):
    refresh(cache, store, dt.date(2024, 1, 1), dt.date(2026, 1, 1), chunk_days=366)
    newer = business_day_bars(["AAPL"], 401).tail(1)
    store.write(newer)
    assert set(stale_symbols(cache, store)) == {"AAPL"}


def _changed(bars: pd.DataFrame, since: dt.datetime) -> Changes:
    keys = bars[["symbol", "ts"]].assign(changed_at=bars["ingested_at"], retired=False)
    return since_watermark(keys.reset_index(drop=True), since)


def test_changes_correct_cached_bars_in_place_and_warm_only_cold_or_newer_symbols(cache, store):
    since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    refresh(cache, store, dt.date(2024, 1, 1), dt.date(2025, 12, 31), 90)
    eurusd = store.bars[store.bars["symbol"] == "EURUSD"]
    picked = eurusd.iloc[[-2, -30, 0]]  # two inside the cached window, one long before it
    fixed = picked.assign(close=picked["close"] + 0.5, ingested_at=pd.Timestamp(since) + pd.Timedelta(hours=1))
    store.write(fixed)

    report = apply_changes(cache, store, _changed(fixed, since))
    assert (report.corrected, report.written, report.invalidated) == (2, 0, 0)  # no symbol rewritten
    for row in fixed.iloc[:2].itertuples():
        assert cache.bar_on("EURUSD", row.ts.date())["close"].item() == row.close
    assert stale_symbols(cache, store) == {}

    cache.clear()  # Redis restarted empty: nothing changed in the store, one refresh warms every symbol again
    cold = apply_changes(cache, store, _changed(fixed.iloc[0:0], since))
    assert (cold.written, cold.corrected) == (2 * 260, 0)
    assert read_last(cache, store, "AAPL", 260).served_by == "cache"
