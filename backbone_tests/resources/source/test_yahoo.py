import datetime as dt
import sys

import pandas as pd
import pytest

from backbone_domain.bars import RAW_COLUMNS
from backbone_resources.source.base import SourceUnavailable
from backbone_resources.source.synthetic import DEFAULT_UNIVERSE
from backbone_resources.source.yahoo import INSTALL_HINT, YahooSource, yahoo_ticker
from backbone_tests.resources.source.yahoo_fake import PRICES, yahoo_frame

D = dt.date


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "yfinance", None)  # makes `import yfinance` raise ImportError
    with pytest.raises(SourceUnavailable) as err:
        YahooSource().fetch(D(2024, 7, 1), D(2024, 7, 5))
    assert str(err.value) == INSTALL_HINT
    assert "pip install 'backbone[yahoo]'" in str(err.value)
    assert err.value.__cause__ is None


def test_frame_is_mapped_to_raw_columns_with_backbone_symbols(fake_yfinance):
    bars = YahooSource(symbols=["EURUSD", "AAPL"]).fetch(D(2024, 7, 3), D(2024, 7, 5))
    assert tuple(bars.columns) == RAW_COLUMNS
    assert bars["symbol"].tolist() == ["AAPL", "AAPL", "EURUSD", "EURUSD"]  # alignment NaN rows dropped
    assert bars["ts"].tolist() == [pd.Timestamp(f"2024-07-0{d}", tz="UTC") for d in (3, 5, 3, 4)]
    assert str(bars["ts"].dtype) == "datetime64[us, UTC]"
    assert bars["partition_date"].tolist() == [D(2024, 7, 3), D(2024, 7, 5), D(2024, 7, 3), D(2024, 7, 4)]
    assert bars.iloc[0][["open", "high", "low", "close", "adj_close", "volume"]].tolist() == [
        220.0,
        221.5,
        219.0,
        221.55,
        220.9,
        37_369_800,
    ]
    assert (bars["source"] == "yahoo").all()
    assert bars["payload"].isna().all()


def test_request_uses_yahoo_tickers_and_an_exclusive_end(fake_yfinance):
    YahooSource(symbols=["EURUSD", "AAPL"]).fetch(D(2024, 7, 3), D(2024, 7, 5))
    (tickers, kwargs), *_ = fake_yfinance.calls
    assert sorted(tickers) == ["AAPL", "EURUSD=X"]
    assert (kwargs["start"], kwargs["end"]) == ("2024-07-03", "2024-07-06")
    assert kwargs["auto_adjust"] is False


def test_price_first_column_layout_is_understood(fake_yfinance):
    fake_yfinance.answer = yahoo_frame(ticker_first=False)
    bars = YahooSource(symbols=["EURUSD", "AAPL"]).fetch(D(2024, 7, 3), D(2024, 7, 5))
    assert len(bars) == 4


def test_single_ticker_flat_frame_without_adj_close(fake_yfinance):
    index = pd.DatetimeIndex(["2024-07-05 00:00"], tz="America/New_York")
    fake_yfinance.answer = pd.DataFrame([[1.0, 2.0, 0.5, 1.5, 9]], index=index, columns=[*PRICES[:4], "Volume"])
    bars = YahooSource(symbols=["MSFT"]).fetch(D(2024, 7, 5), D(2024, 7, 5))
    assert bars["partition_date"].tolist() == [D(2024, 7, 5)]  # the exchange's date, not UTC's
    assert bars["adj_close"].tolist() == [None]


def test_rows_outside_the_range_are_not_returned(fake_yfinance):
    bars = YahooSource(symbols=["EURUSD", "AAPL"]).fetch(D(2024, 7, 4), D(2024, 7, 4))
    assert bars["symbol"].tolist() == ["EURUSD"]


def test_network_failure_is_one_short_line(fake_yfinance):
    fake_yfinance.answer = ConnectionError("Failed to resolve 'query2.finance.yahoo.com'\nlong trace here")
    with pytest.raises(SourceUnavailable) as err:
        YahooSource().fetch(D(2024, 7, 1), D(2024, 7, 5))
    message = str(err.value)
    assert message.startswith("BACKBONE_SOURCE=yahoo: download failed (ConnectionError")
    assert "\n" not in message
    assert err.value.__suppress_context__


def test_empty_answer_where_data_should_exist_is_an_error(fake_yfinance):
    fake_yfinance.answer = pd.DataFrame()
    with pytest.raises(SourceUnavailable, match="no data for any of 6 symbols"):
        YahooSource().fetch(D(2024, 7, 1), D(2024, 7, 5))


def test_tickers_default_universe_and_name():
    assert yahoo_ticker("EURUSD") == "EURUSD=X"
    assert yahoo_ticker("EURUSD=X") == "EURUSD=X"
    assert yahoo_ticker("AAPL") == "AAPL"
    assert YahooSource().universe() == list(DEFAULT_UNIVERSE)
    assert YahooSource().name == "yahoo"
