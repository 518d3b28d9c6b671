"""Stored intraday bars folded to a daily bar, and the verdict comparing them with the stored daily bars: the one
rule the check and the provisional bar both use."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from backbone_domain.bars import utc_midnight
from backbone_domain.intraday_bars import aggregate, intraday_frame, verdict
from backbone_domain.intraday_replay import session_bars
from backbone_resources.source.synthetic import SyntheticSource

SESSION = dt.date(2024, 1, 2)
SYMBOLS = ["AAPL", "EURUSD", "MSFT"]


def _minutes(symbols: list[str] = SYMBOLS, minutes: int = 5) -> pd.DataFrame:
    frame = SyntheticSource(symbols=symbols).fetch_intraday(SESSION, interval_minutes=minutes)
    return intraday_frame(session_bars(frame))


def _daily(symbols: list[str] = SYMBOLS) -> pd.DataFrame:
    """The synthetic source's daily bars of the session, as the store holds them (ts = midnight UTC)."""
    raw = SyntheticSource(symbols=symbols).fetch(SESSION, SESSION)
    frame = raw[["symbol", "ts", "open", "high", "low", "close", "volume"]].copy()
    for column in ("open", "high", "low", "close", "volume"):
        frame[column] = frame[column].astype(float)
    return frame


def test_aggregate_is_first_open_max_high_min_low_last_close_summed_volume() -> None:
    ts = pd.date_range("2024-01-02 14:30", periods=3, freq="1min", tz="UTC")
    minutes = pd.DataFrame(
        {
            "symbol": "AAPL",
            "session": SESSION,
            "ts": ts[::-1],  # out of order: the fold orders by ts
            "interval_s": 60,
            "open": [3.0, 2.0, 1.0],
            "high": [3.5, 9.0, 1.5],
            "low": [2.5, 1.5, 0.5],
            "close": [3.25, 2.25, 1.25],
            "volume": [0.1, 0.2, 0.3],
            "source": "test",
        }
    )

    (row,) = aggregate(minutes).itertuples(index=False)

    assert (row.open, row.high, row.low, row.close) == (1.0, 9.0, 0.5, 3.25)
    assert row.volume == 0.6  # fsum: 0.1 + 0.2 + 0.3 would be 0.6000000000000001
    assert (row.bars, row.through) == (3, dt.datetime(2024, 1, 2, 14, 33, tzinfo=dt.UTC))


def test_synthetic_minutes_pass_exactly() -> None:
    found = verdict(SESSION, _minutes(), _daily())

    assert found.passed, found.description
    assert found.compared == 3
    assert found.description == "2024-01-02: the minutes of 3 symbols aggregate to their daily bars"


def test_a_changed_minute_a_missing_daily_bar_and_a_partial_session_are_named() -> None:
    minutes = _minutes()
    msft = minutes.index[minutes["symbol"] == "MSFT"]
    minutes.loc[msft[:3], "volume"] += 1  # MSFT: three bars off, the volume no longer sums
    partial = minutes.drop(minutes.index[minutes["symbol"] == "EURUSD"][-1])  # EURUSD: the last bar missing
    daily = _daily()
    daily = daily[daily["symbol"] != "AAPL"]  # AAPL: minutes, no daily bar

    found = verdict(SESSION, partial, daily)

    assert not found.passed
    assert sorted(found.mismatches) == ["AAPL", "EURUSD", "MSFT"]
    assert found.mismatches["AAPL"].endswith("no daily bar")
    assert "volume" in found.mismatches["MSFT"]
    assert "close" not in found.mismatches["MSFT"]
    assert "close" in found.mismatches["EURUSD"]
    assert found.description.startswith("2024-01-02: 3 of 3 symbols differ: AAPL: ")


def test_a_daily_bar_without_minutes_is_not_a_mismatch_and_nothing_to_compare_passes() -> None:
    assert verdict(SESSION, _minutes(["AAPL"]), _daily()).passed
    nothing = verdict(None, None, None)
    assert nothing.passed
    assert nothing.compared == 0
    assert nothing.description.startswith("nothing to compare")


def test_a_tolerance_counts_small_relative_differences_as_equal() -> None:
    daily = _daily(["AAPL"]).assign(close=lambda f: f["close"] * (1 + 1e-7))

    assert not verdict(SESSION, _minutes(["AAPL"]), daily).passed
    assert verdict(SESSION, _minutes(["AAPL"]), daily, tolerance=1e-6).passed
    assert not verdict(SESSION, _minutes(["AAPL"]), daily, tolerance=1e-8).passed


def test_the_stored_frame_keeps_the_session_and_the_version() -> None:
    minutes = _minutes(["AAPL"], 30)
    assert set(minutes["session"]) == {SESSION}
    assert (minutes["ingested_at"] > minutes["ts"]).all()
    assert minutes["ts"].min() >= utc_midnight(SESSION)
