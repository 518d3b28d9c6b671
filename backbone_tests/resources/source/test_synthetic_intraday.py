"""Synthetic intraday bars: each session's minutes aggregate to the synthetic daily bar exactly, bit for bit,
over many symbols (FX and equities, known and made-up), days (early closes, FX Sundays and Fridays) and intervals.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbone_domain.bars import INTRADAY_COLUMNS
from backbone_domain.calendars import is_trading_day, session_hours
from backbone_resources.source.base import IntradayUnsupported
from backbone_resources.source.synthetic import DEFAULT_UNIVERSE, KNOWN_SYMBOLS, SyntheticSource
from backbone_resources.source.yahoo import YahooSource

SYMBOLS = st.one_of(
    st.sampled_from([*DEFAULT_UNIVERSE, "AUDUSD", "USDJPY=X", "BRK.B"]),
    st.from_regex(r"[A-Z]{1,5}", fullmatch=True),  # made-up equities
    st.tuples(st.sampled_from(["EUR", "CHF", "NZD"]), st.sampled_from(["USD", "JPY", "SEK"])).map("".join),
)
# a day's bar from its minutes: first open, max high, min low, last close, summed volume
DAILY_OF = {
    "open": ("open", "first"),
    "high": ("high", "max"),
    "low": ("low", "min"),
    "close": ("close", "last"),
    "volume": ("volume", "sum"),
}
DAYS = st.dates(dt.date(1995, 1, 1), dt.date(2035, 12, 31))


def _daily_of_minutes(minutes: pd.DataFrame) -> pd.DataFrame:
    return minutes.groupby("symbol", sort=True).agg(**DAILY_OF)


@given(
    symbols=st.lists(SYMBOLS, min_size=1, max_size=4, unique=True),
    first=DAYS,
    days=st.integers(1, 4),
    seed=st.integers(0, 2**31),
)
def test_minutes_aggregate_to_the_daily_bar_bit_for_bit(symbols, first, days, seed):
    """The daily bars come from one range fetch, as a backfill stores them; each day's minutes are asked alone."""
    source = SyntheticSource(seed=seed, symbols=symbols)
    last = first + dt.timedelta(days=days - 1)
    stored = source.fetch(first, last)
    for day in pd.date_range(first, last).date:
        daily = stored[stored["partition_date"] == day].set_index("symbol")
        minutes = source.fetch_intraday(day)
        trading = sorted(s for s in symbols if is_trading_day(s, day))
        assert sorted(minutes["symbol"].unique()) == list(daily.index) == trading
        if not trading:
            continue
        aggregated = _daily_of_minutes(minutes)
        for column in ("open", "high", "low", "close", "volume"):
            got = aggregated[column].to_numpy(dtype=np.float64)
            want = daily.loc[aggregated.index, column].to_numpy(dtype=np.float64)
            assert got.tobytes() == want.tobytes(), (day, column, got, want)  # bit for bit, not approximately
        assert (minutes["volume"] == np.floor(minutes["volume"])).all()
        assert (minutes["volume"] >= 0).all()


@given(symbol=SYMBOLS, day=DAYS, interval=st.sampled_from([1, 2, 5, 7, 15, 60, 240]))
def test_every_interval_of_the_session_once_each_consistent(symbol, day, interval):
    minutes = SyntheticSource(symbols=[symbol]).fetch_intraday(day, interval_minutes=interval)
    if not is_trading_day(symbol, day):
        assert minutes.empty
        return
    opens_at, closes_at = session_hours(symbol, day)
    length = int((closes_at - opens_at).total_seconds()) // 60
    assert list(minutes.columns) == list(INTRADAY_COLUMNS)
    assert len(minutes) == -(-length // interval)  # ceil: the last interval may be cut short by the close
    starts = pd.date_range(opens_at, periods=len(minutes), freq=f"{interval}min")
    assert (minutes["ts"].to_numpy() == starts.to_numpy()).all()
    assert (minutes["interval_s"] == 60 * interval).all()
    assert (minutes["session"] == day).all()
    assert (minutes["low"] <= minutes[["open", "close"]].min(axis=1)).all()
    assert (minutes["high"] >= minutes[["open", "close"]].max(axis=1)).all()
    assert (minutes["low"] > 0).all()
    # one price path: each bar opens where the previous one closed
    assert (minutes["open"].to_numpy()[1:] == minutes["close"].to_numpy()[:-1]).all()
    if symbol in KNOWN_SYMBOLS:  # prices are whole ticks, as the daily bar's are
        scale = 10.0 ** KNOWN_SYMBOLS[symbol][1]
        prices = minutes[["open", "high", "low", "close"]].to_numpy()
        assert (np.rint(prices * scale) / scale == prices).all()


@given(symbol=SYMBOLS, day=DAYS, interval=st.sampled_from([2, 5, 30, 65]))
def test_n_minute_bars_are_aggregates_of_the_one_minute_bars(symbol, day, interval):
    source = SyntheticSource(symbols=[symbol])
    ones, ns = source.fetch_intraday(day), source.fetch_intraday(day, interval_minutes=interval)
    if ones.empty:
        return
    groups = np.arange(len(ones)) // interval
    again = ones.groupby(groups).agg(**DAILY_OF)
    for column in again.columns:
        assert again[column].to_numpy().tobytes() == ns[column].to_numpy().tobytes(), column


def test_session_hours_shape_the_day():
    source = SyntheticSource(symbols=["AAPL", "EURUSD"])
    early_close = source.fetch_intraday(dt.date(2024, 7, 3))  # NYSE closes at 13:00 New York
    counts = early_close.groupby("symbol").size()
    assert counts["AAPL"] == 210
    assert counts["EURUSD"] == 24 * 60
    sunday = source.fetch_intraday(dt.date(2024, 7, 7))  # FX only, from 17:00 New York (21:00 UTC in summer)
    assert set(sunday["symbol"]) == {"EURUSD"}
    assert len(sunday) == 180
    assert sunday["ts"].iloc[0] == pd.Timestamp("2024-07-07 21:00", tz="UTC")
    regular = source.fetch_intraday(dt.date(2024, 1, 2), interval_minutes=5)
    aapl = regular[regular["symbol"] == "AAPL"]
    assert aapl["ts"].iloc[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")
    assert len(aapl) == 78


def test_same_seed_same_minutes_other_seed_other_minutes():
    day = dt.date(2024, 3, 5)
    a = SyntheticSource(seed=1).fetch_intraday(day)
    pd.testing.assert_frame_equal(a, SyntheticSource(seed=1).fetch_intraday(day), check_exact=True)
    b = SyntheticSource(seed=2).fetch_intraday(day)
    assert not np.array_equal(a["close"].to_numpy(), b["close"].to_numpy())
    alone = SyntheticSource(seed=1).fetch_intraday(day, symbols=["MSFT"])
    within = a[a["symbol"] == "MSFT"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, within, check_exact=True)  # independent of the other symbols asked


def test_a_source_without_intraday_bars_says_so():
    with pytest.raises(IntradayUnsupported, match="yahoo source has no intraday bars"):
        YahooSource(symbols=["AAPL"]).fetch_intraday(dt.date(2024, 1, 2))
