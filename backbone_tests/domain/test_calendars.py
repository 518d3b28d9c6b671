import datetime as dt
import time

import pytest

from backbone_domain.calendars import (
    CalendarRangeError,
    calendar_kind,
    is_trading_day,
    last_trading_day,
    trading_days,
    trading_days_between,
)

D = dt.date


@pytest.mark.parametrize("symbol", ["EURUSD", "GBPUSD", "USDJPY", "EURUSD=X", "JPY=X", "eurusd"])
def test_currency_pairs_are_fx(symbol):
    assert calendar_kind(symbol) == "fx"


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "SPY", "S0001", "BRK.B", "^GSPC", "GOOGLE", "ABCDEF"])
def test_everything_else_is_equity(symbol):
    assert calendar_kind(symbol) == "equity"


def test_fx_trades_sunday_to_friday_including_us_holidays():
    days = trading_days("EURUSD", D(2024, 7, 1), D(2024, 7, 14))
    assert all(d.weekday() != 5 for d in days)
    assert D(2024, 7, 7) in days  # a Sunday
    assert D(2024, 7, 4) in days  # the interbank market ignores Independence Day
    assert len(days) == 12


def test_equities_follow_nyse_sessions():
    days = trading_days("AAPL", D(2024, 7, 1), D(2024, 7, 14))
    assert days == [D(2024, 7, d) for d in (1, 2, 3, 5, 8, 9, 10, 11, 12)]
    assert len(trading_days("MSFT", D(2023, 1, 1), D(2023, 12, 31))) == 250
    assert not is_trading_day("AAPL", D(2024, 3, 29))  # Good Friday
    assert not is_trading_day("AAPL", D(2001, 9, 11))  # an unscheduled closure
    assert is_trading_day("AAPL", D(2024, 7, 5))


def test_trading_days_are_dates_inclusive_and_empty_when_reversed():
    days = trading_days("AAPL", D(2024, 7, 5), D(2024, 7, 8))
    assert days == [D(2024, 7, 5), D(2024, 7, 8)]
    assert all(type(d) is dt.date for d in days)
    assert trading_days("AAPL", D(2024, 7, 8), D(2024, 7, 5)) == []


def test_last_trading_day():
    assert last_trading_day("AAPL", D(2024, 7, 7)) == D(2024, 7, 5)  # Sunday -> Friday
    assert last_trading_day("AAPL", D(2024, 7, 4)) == D(2024, 7, 3)  # holiday -> day before
    assert last_trading_day("AAPL", D(2024, 7, 5)) == D(2024, 7, 5)
    assert last_trading_day("EURUSD", D(2024, 7, 6)) == D(2024, 7, 5)  # Saturday -> Friday
    assert last_trading_day("EURUSD", D(2024, 7, 7)) == D(2024, 7, 7)  # Sunday is an FX session


def test_trading_days_between_counts_sessions_after_earlier_up_to_later():
    assert trading_days_between("AAPL", D(2024, 7, 3), D(2024, 7, 8)) == 2  # 5th and 8th
    assert trading_days_between("AAPL", D(2024, 7, 5), D(2024, 7, 5)) == 0
    assert trading_days_between("AAPL", D(2024, 7, 5), D(2024, 7, 7)) == 0  # weekend is no lag
    assert trading_days_between("EURUSD", D(2024, 7, 5), D(2024, 7, 8)) == 2  # Sunday and Monday
    assert trading_days_between("AAPL", D(2024, 7, 8), D(2024, 7, 1)) == 0


def test_between_agrees_with_trading_days():
    earlier, later = D(2019, 3, 14), D(2021, 11, 2)
    for symbol in ("AAPL", "EURUSD"):
        expected = len(trading_days(symbol, earlier + dt.timedelta(days=1), later))
        assert trading_days_between(symbol, earlier, later) == expected


def test_far_future_sessions_exist_beyond_exchange_calendars_default_bound():
    days = trading_days("AAPL", D(2090, 12, 20), D(2090, 12, 31))
    assert len(days) == 7
    assert D(2090, 12, 25) not in days


@pytest.mark.parametrize("day", [D(1969, 12, 31), D(2101, 1, 1)])
def test_dates_outside_the_span_fail_clearly(day):
    with pytest.raises(CalendarRangeError, match="outside the trading calendars' span"):
        trading_days("AAPL", day, day)
    with pytest.raises(CalendarRangeError):
        last_trading_day("EURUSD", day)


def test_start_date_default_is_covered():
    assert trading_days("AAPL", D(2000, 1, 3), D(2000, 1, 3)) == [D(2000, 1, 3)]


def test_500_symbols_over_ten_years_is_fast():
    sessions = len(trading_days("S0000", D(2014, 1, 1), D(2023, 12, 31)))  # also builds the cached calendar
    began = time.perf_counter()
    total = sum(len(trading_days(f"S{i:04d}", D(2014, 1, 1), D(2023, 12, 31))) for i in range(500))
    assert sessions == 2516
    assert total == 500 * sessions
    assert time.perf_counter() - began < 2.0
