"""The provisional daily bar in the HotCache contract, over every backend: its own key beside the final bars,
kept for the newest session, invisible to the daily bars' counters, LRU and eviction."""

from __future__ import annotations

import datetime as dt

from backbone_domain.provisional import ProvisionalBar
from backbone_tests.builders import business_day_bars

SESSION = dt.date(2024, 1, 2)


def _bar(symbol: str = "AAPL", session: dt.date = SESSION, close: float = 101.25, bars: int = 30) -> ProvisionalBar:
    return ProvisionalBar(
        symbol=symbol,
        session=session,
        open=100.0,
        high=0.1 + 0.2 + 101,
        low=99.5,
        close=close,
        volume=123_456.0,
        bars=bars,
        through=dt.datetime.combine(session, dt.time(15, 0), dt.UTC),
        source="synthetic",
    )


def test_a_provisional_bar_round_trips_exactly(make_cache):
    cache = make_cache()
    assert cache.provisional("AAPL") is None

    assert cache.put_provisional(_bar()) is True

    assert cache.provisional("AAPL") == _bar()
    assert cache.provisional("MSFT") is None


def test_the_same_session_is_updated_and_an_older_one_never_replaces_a_newer(make_cache):
    cache = make_cache()
    cache.put_provisional(_bar(bars=30))
    assert cache.put_provisional(_bar(close=102.0, bars=31)) is True
    assert cache.provisional("AAPL") == _bar(close=102.0, bars=31)

    later = _bar(session=SESSION + dt.timedelta(days=1), bars=1)
    assert cache.put_provisional(later) is True
    assert cache.put_provisional(_bar(bars=78)) is False  # a replay of the day before
    assert cache.provisional("AAPL") == later


def test_provisional_bars_leave_the_daily_bars_and_their_figures_alone(make_cache):
    cache = make_cache(keep_bars=5, max_symbols=1)
    daily = business_day_bars(["AAPL"], 10)
    cache.replace_symbols(daily)
    for symbol in ("AAPL", "MSFT", "IBM"):  # more symbols than max_symbols: none of them is evicted for it
        cache.put_provisional(_bar(symbol))
    cache.provisional("AAPL")

    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.keys) == (0, 0, 1)
    assert len(cache.last_bars("AAPL", 5)) == 5
    assert all(cache.provisional(s) == _bar(s) for s in ("AAPL", "MSFT", "IBM"))

    cache.clear()
    assert cache.provisional("AAPL") is None
