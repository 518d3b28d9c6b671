import datetime as dt
import time

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from backbone_domain.calendars import trading_days
from backbone_resources.source import synthetic
from backbone_resources.source.synthetic import DEFAULT_UNIVERSE, SyntheticSource

D = dt.date
DECADE = (D(2014, 1, 1), D(2023, 12, 31))


@pytest.fixture(scope="module")
def decade() -> pd.DataFrame:
    return SyntheticSource(symbols=[*DEFAULT_UNIVERSE, "S0001", "AUDUSD"]).fetch(*DECADE)


def month_ranges(start: dt.date, end: dt.date):
    while start <= end:
        last = min((pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date(), end)
        yield start, last
        start = last + dt.timedelta(days=1)


def test_same_seed_same_bars_other_seed_other_bars():
    a = SyntheticSource(seed=7).fetch(D(2020, 1, 1), D(2020, 3, 31))
    b = SyntheticSource(seed=7).fetch(D(2020, 1, 1), D(2020, 3, 31))
    c = SyntheticSource(seed=8).fetch(D(2020, 1, 1), D(2020, 3, 31))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not np.allclose(a["close"].to_numpy(), c["close"].to_numpy())


def test_a_symbols_bars_do_not_depend_on_the_block_it_is_computed_in(decade):
    """The contract suite asks this over two months; over a decade the symbols are computed in blocks of two."""
    alone = SyntheticSource().fetch(*DECADE, symbols=["aapl"])
    within = decade[decade["symbol"] == "AAPL"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, within, check_exact=True)


def test_ohlc_consistent_positive_and_complete_over_a_decade(decade):
    values = decade[["open", "high", "low", "close", "adj_close", "volume"]]
    assert values.notna().all().all()
    assert (decade["low"] > 0).all()
    assert (decade["low"] <= decade[["open", "close"]].min(axis=1)).all()
    assert (decade["high"] >= decade[["open", "close"]].max(axis=1)).all()
    assert (decade["volume"] >= 0).all()
    assert (decade["volume"] == decade["volume"].round()).all()
    assert (decade["adj_close"] == decade["close"]).all()


@pytest.mark.parametrize(("symbol", "level"), [("EURUSD", 1.1), ("USDJPY", 140), ("AAPL", 150), ("MSFT", 300)])
def test_realistic_levels(decade, symbol, level):
    closes = decade.loc[decade["symbol"] == symbol, "close"]
    assert level / 2 < closes.median() < level * 2
    assert closes.max() / closes.min() < 6


def test_daily_moves_are_plausible(decade):
    returns = np.log(decade["close"]).groupby(decade["symbol"]).diff().abs()
    per_symbol = returns.groupby(decade["symbol"]).median()
    assert (per_symbol > 0.001).all()
    assert (per_symbol < 0.03).all()


def test_bars_only_on_trading_days(decade):
    fx = decade[decade["symbol"] == "EURUSD"]["ts"].dt.weekday
    assert not (fx == 5).any()  # never Saturday
    assert (fx == 6).any()  # but Sunday
    aapl = decade[decade["symbol"] == "AAPL"]
    assert aapl["partition_date"].tolist() == trading_days("AAPL", *DECADE)
    week = SyntheticSource().fetch(D(2024, 7, 1), D(2024, 7, 7))
    assert D(2024, 7, 4) not in week.loc[week["symbol"] == "SPY", "partition_date"].tolist()
    assert D(2024, 7, 4) in week.loc[week["symbol"] == "GBPUSD", "partition_date"].tolist()
    assert SyntheticSource().fetch(D(2024, 7, 6), D(2024, 7, 7), symbols=["AAPL", "MSFT"]).empty


def test_any_well_formed_symbol_is_served_and_bad_ones_refused():
    symbols = [f"S{i:04d}" for i in range(1, 501)]
    bars = SyntheticSource(symbols=symbols).fetch(D(2024, 1, 1), D(2024, 1, 31))
    assert sorted(bars["symbol"].unique()) == symbols
    assert len(bars) == 500 * len(trading_days("S0001", D(2024, 1, 1), D(2024, 1, 31)))
    with pytest.raises(ValueError, match="not a symbol: BAD SYMBOL"):
        SyntheticSource().fetch(D(2024, 1, 1), D(2024, 1, 31), symbols=["bad symbol"])


def test_universe_and_name():
    assert SyntheticSource().universe() == list(DEFAULT_UNIVERSE)
    assert {"EURUSD", "GBPUSD", "USDJPY", "AAPL", "MSFT"} <= set(DEFAULT_UNIVERSE)
    assert SyntheticSource(symbols=["spy", "AAPL"]).universe() == ["SPY", "AAPL"]
    assert SyntheticSource().name == "synthetic"
    assert isinstance(SyntheticSource(), dg.ConfigurableResource)


def test_caches_stay_bounded():
    source = SyntheticSource()
    for i in range(40):
        source.fetch(D(2024, 1, 2), D(2024, 1, 3), symbols=[f"X{i}", "AAPL"])
    assert synthetic._groups.cache_info().currsize <= synthetic._groups.cache_info().maxsize
    assert synthetic._request.cache_info().currsize <= synthetic._request.cache_info().maxsize


def test_chunk_cost_does_not_grow_with_history():
    """Closed-form prices: a month in 2090 costs what a month in 2001 costs (no cumsum from the epoch)."""
    source = SyntheticSource(symbols=[f"S{i:04d}" for i in range(200)])

    def cost(start: dt.date, end: dt.date) -> float:
        best = float("inf")
        for _ in range(3):
            began = time.process_time()
            source.fetch(start, end)
            best = min(best, time.process_time() - began)
        return best

    early, late = cost(D(2001, 3, 1), D(2001, 3, 31)), cost(D(2090, 3, 1), D(2090, 3, 31))
    assert late < 5 * early + 0.01


def test_throughput_floor():
    """A loose floor (the measured rate is ~10x higher) that catches an accidental per-row Python loop."""
    source = SyntheticSource(symbols=[f"S{i:04d}" for i in range(500)])
    source.fetch(D(2015, 1, 1), D(2015, 1, 31))
    began, rows = time.process_time(), 0
    for start, end in month_ranges(D(2015, 1, 1), D(2015, 12, 31)):
        rows += len(source.fetch(start, end))
    assert rows / (time.process_time() - began) > 200_000
