"""The HotCache contract, run over every backend: diskcache (bootstrap) and Redis (institutional)."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd

from backbone_domain.bars import BAR_DTYPES
from backbone_tests.builders import business_day_bars


def _dates(frame: pd.DataFrame) -> list[dt.date]:
    return list(frame["ts"].dt.date)


def test_last_bars_round_trip_exactly(make_cache):
    cache = make_cache(keep_bars=260)
    bars = business_day_bars(["EURUSD", "AAPL"], 300)
    assert cache.replace_symbols(bars) == 2 * 260
    got = cache.last_bars("EURUSD", 10)
    expected = bars[bars["symbol"] == "EURUSD"].tail(10).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    assert got.dtypes.to_dict() == BAR_DTYPES
    assert len(cache.last_bars("AAPL", 260)) == 260


def test_fewer_cached_than_asked_is_a_miss(make_cache):
    cache = make_cache(keep_bars=20)
    cache.replace_symbols(business_day_bars(["EURUSD"], 50))
    assert cache.last_bars("EURUSD", 21) is None
    assert cache.last_bars("NOPE", 1) is None
    assert cache.take_window().misses == 2


def test_bar_on_date(make_cache):
    cache = make_cache(keep_bars=30)
    bars = business_day_bars(["AAPL"], 40)
    cache.replace_symbols(bars)
    newest = bars["ts"].iloc[-1].date()
    hit = cache.bar_on("AAPL", newest)
    pd.testing.assert_frame_equal(hit, bars.tail(1).reset_index(drop=True))
    assert cache.bar_on("AAPL", bars["ts"].iloc[0].date()) is None  # outside the newest 30
    assert cache.bar_on("AAPL", dt.date(2024, 1, 6)) is None  # a Saturday


def test_replace_makes_the_newest_bars_exactly_the_cached_ones(make_cache):
    cache = make_cache(keep_bars=5)
    cache.replace_symbols(business_day_bars(["AAPL"], 10))
    corrected = business_day_bars(["AAPL"], 8, bump=0.5)  # a shorter, corrected history
    cache.replace_symbols(corrected)
    got = cache.last_bars("AAPL", 5)
    pd.testing.assert_frame_equal(got, corrected.tail(5).reset_index(drop=True))
    assert cache.last_bars("AAPL", 6) is None


def test_invalidate_spans_drops_exactly_the_span_of_the_symbols_named(make_cache):
    cache = make_cache(keep_bars=20)
    bars = business_day_bars(["AAPL", "EURUSD"], 20)
    cache.replace_symbols(bars)
    days = _dates(bars[bars["symbol"] == "AAPL"])
    assert cache.invalidate_spans({"AAPL": (days[10], days[12])}) == 3
    assert cache.bar_on("AAPL", days[11]) is None
    assert cache.bar_on("AAPL", days[9]) is not None
    assert cache.bar_on("AAPL", days[13]) is not None
    assert cache.last_bars("EURUSD", 20) is not None
    assert cache.invalidate_spans({"NOPE": (days[0], days[-1])}) == 0


def test_invalidate_drops_exactly_the_dates_named(make_cache):
    cache = make_cache(keep_bars=20)
    bars = business_day_bars(["AAPL", "EURUSD"], 20)
    cache.replace_symbols(bars)
    days = _dates(bars[bars["symbol"] == "AAPL"])
    assert cache.invalidate({"AAPL": [days[3], days[5], days[5]], "EURUSD": [days[0]], "NOPE": [days[1]]}) == 3
    assert cache.bar_on("AAPL", days[3]) is None
    assert cache.bar_on("AAPL", days[4]) is not None
    assert cache.bar_on("AAPL", days[5]) is None
    assert cache.bar_on("EURUSD", days[0]) is None
    assert len(cache.last_bars("EURUSD", 19)) == 19


def test_least_recently_used_symbols_are_evicted_beyond_the_cap(make_cache):
    cache = make_cache(keep_bars=5, max_symbols=2)
    cache.replace_symbols(business_day_bars(["AAA"], 5))
    cache.replace_symbols(business_day_bars(["BBB"], 5))
    time.sleep(0.01)
    assert cache.last_bars("AAA", 1) is not None  # AAA is now more recently used than BBB
    time.sleep(0.01)
    cache.replace_symbols(business_day_bars(["CCC"], 5))
    assert cache.last_bars("BBB", 1) is None
    assert cache.last_bars("AAA", 1) is not None
    assert cache.last_bars("CCC", 1) is not None
    assert cache.stats().keys == 2


def test_entries_expire_after_their_ttl(make_cache):
    cache = make_cache(keep_bars=5, ttl_seconds=1)
    cache.replace_symbols(business_day_bars(["AAA"], 5))
    assert cache.last_bars("AAA", 5) is not None
    time.sleep(1.6)
    assert cache.last_bars("AAA", 5) is None


def test_counters_and_windows(make_cache):
    cache = make_cache(keep_bars=5)
    cache.replace_symbols(business_day_bars(["AAA", "BBB"], 5))
    for _ in range(3):
        cache.last_bars("AAA", 2)
    cache.bar_on("ZZZ", dt.date(2024, 1, 2))
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.keys) == (3, 1, 2)
    assert stats.hit_ratio == 0.75
    assert stats.memory_bytes > 0
    first = cache.take_window()
    assert (first.hits, first.misses, first.reads) == (3, 1, 4)
    cache.last_bars("AAA", 1)
    window = cache.take_window()
    assert (window.hits, window.misses) == (1, 0)
    assert cache.stats().hits == 4  # a window never resets the running totals


def test_latest_cached_is_not_a_read(make_cache):
    cache = make_cache(keep_bars=5)
    bars = business_day_bars(["AAA", "BBB"], 7)
    cache.replace_symbols(bars)
    latest = cache.latest_cached()
    assert list(latest["symbol"]) == ["AAA", "BBB"]
    assert set(latest["ts"]) == {bars["ts"].iloc[-1]}
    assert cache.stats().hits + cache.stats().misses == 0


def test_clear_and_describe(make_cache):
    cache = make_cache()
    cache.replace_symbols(business_day_bars(["AAA"], 3))
    cache.last_bars("AAA", 1)
    cache.clear()
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.keys) == (0, 0, 0)
    described = cache.describe()
    assert described["backend"] in {"redis", "diskcache"}
    assert described["keep_bars"] == 260
    assert cache.ping() >= 0


def test_replace_bars_corrects_only_the_cached_dates_named(make_cache):
    cache = make_cache(keep_bars=10)
    bars = business_day_bars(["AAPL", "EURUSD"], 30)
    cache.replace_symbols(bars)
    aapl = bars[bars["symbol"] == "AAPL"].reset_index(drop=True)
    held, older = aapl.iloc[[-3]], aapl.iloc[[0]]  # inside the newest 10, and outside them
    later = held.assign(ts=held["ts"] + pd.Timedelta(days=7), close=1.0)  # a date the cache does not hold
    corrected = pd.concat([held.assign(close=held["close"] + 0.25), older.assign(close=2.0), later])
    stats = cache.stats()

    assert cache.replace_bars(corrected) == 1
    expected = aapl.tail(10).reset_index(drop=True)
    expected.loc[7, "close"] += 0.25
    pd.testing.assert_frame_equal(cache.last_bars("AAPL", 10), expected)
    assert cache.last_bars("AAPL", 11) is None  # no date added
    eurusd = bars[bars["symbol"] == "EURUSD"].tail(10).reset_index(drop=True)
    pd.testing.assert_frame_equal(cache.last_bars("EURUSD", 10), eurusd)
    assert cache.stats().keys == stats.keys
    assert cache.replace_bars(corrected) == 1  # the same correction again: the same state
    pd.testing.assert_frame_equal(cache.last_bars("AAPL", 10), expected)
    assert cache.replace_bars(corrected.iloc[0:0]) == 0
    stale = held.assign(close=3.0, ingested_at=held["ingested_at"] - pd.Timedelta(days=1))  # an older version
    assert cache.replace_bars(stale) == 0
    pd.testing.assert_frame_equal(cache.last_bars("AAPL", 10), expected)
