"""Intraday files beside the daily ones (``<dir>/intraday/``): both layouts give the bars they hold, bit for bit,
aggregated to N minutes from the open; a doubtful file fails the request naming the file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from backbone_resources.source.files import FileSource
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.unavailable import SourceUnreadable

SESSION, NEXT = dt.date(2024, 1, 2), dt.date(2024, 1, 3)
ORIGIN = SyntheticSource(symbols=["AAPL", "EURUSD", "MSFT"])


def _export(minutes: pd.DataFrame, new_york: bool = False) -> pd.DataFrame:
    """Bars as a Yahoo-style intraday export: Datetime (New York time with its offset, or UTC), OHLCV."""
    ts = minutes["ts"].dt.tz_convert("America/New_York") if new_york else minutes["ts"]
    frame = minutes.loc[:, ["open", "high", "low", "close", "volume"]].rename(columns=str.title)
    return frame.assign(Datetime=ts.astype(str).to_numpy(), **{"Adj Close": frame["Close"]})[
        ["Datetime", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
    ]


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """AAPL: one CSV of two sessions (New York times); EURUSD: one Parquet per session; MSFT: no intraday file."""
    intraday = tmp_path / "intraday"
    (intraday / "EURUSD").mkdir(parents=True)
    both = pd.concat([ORIGIN.fetch_intraday(day, ["AAPL"]) for day in (SESSION, NEXT)])
    _export(both, new_york=True).to_csv(intraday / "AAPL.csv", index=False)
    for day in (SESSION, NEXT):
        _export(ORIGIN.fetch_intraday(day, ["EURUSD"])).to_parquet(intraday / "EURUSD" / f"{day}.parquet")
    ORIGIN.fetch(SESSION, NEXT, ["MSFT"]).to_csv(tmp_path / "MSFT.csv", index=False)  # a daily file only
    return tmp_path


@pytest.mark.parametrize("interval", [1, 5, 60])
def test_both_layouts_give_the_bars_they_hold_bit_for_bit(directory, interval):
    got = FileSource(directory=str(directory)).fetch_intraday(SESSION, ["AAPL", "EURUSD", "MSFT"], interval)
    want = ORIGIN.fetch_intraday(SESSION, ["AAPL", "EURUSD"], interval)
    pd.testing.assert_frame_equal(
        got.drop(columns="source"), want.drop(columns="source"), check_exact=True, check_dtype=False
    )
    assert set(got["source"]) == {"csv"}


def test_a_cell_that_is_not_a_number_fails_the_request_naming_file_and_line(directory):
    path = directory / "intraday" / "AAPL.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[4], "n/a", 1)  # the Close of the third bar
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceUnreadable, match=r"AAPL\.csv: line 4: Close 'n/a' is not readable"):
        FileSource(directory=str(directory)).fetch_intraday(SESSION, ["AAPL"])


def test_two_files_for_one_session_are_refused(directory):
    (directory / "intraday" / "EURUSD.csv").write_text("Datetime,Open,High,Low,Close,Volume\n")
    with pytest.raises(SourceUnreadable, match=r"all hold EURUSD on 2024-01-02; keep one"):
        FileSource(directory=str(directory)).fetch_intraday(SESSION, ["EURUSD"])


def test_bars_longer_than_the_interval_are_refused(directory):
    bars = ORIGIN.fetch_intraday(SESSION, ["AAPL"], interval_minutes=5)
    _export(bars).to_csv(directory / "intraday" / "AAPL.csv", index=False)
    with pytest.raises(SourceUnreadable, match=r"bars 0 days 00:05:00 apart cannot make 1-minute bars"):
        FileSource(directory=str(directory)).fetch_intraday(SESSION, ["AAPL"])
