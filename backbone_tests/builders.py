"""Test data in the shapes the code under test takes: validated bars (``BAR_COLUMNS``), raw rows as a source
lands them (``RAW_COLUMNS``, text as found), rejected rows (``REJECTED_COLUMNS``) and the per-symbol frames a
source reads (Yahoo's export layout).

One module so a change of a contract's columns is one change here. Each builder is deterministic: tests
assert on the values it gives (a price, a date, a NaN in a known place), so its formula is part of the tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from backbone_domain.bar_messages import BarMessage
from backbone_domain.bars import BAR_COLUMNS, BAR_DTYPES, RAW_COLUMNS, VALUE_COLUMNS, empty_rejected, utc_midnight

MON = dt.date(2024, 1, 1)  # a Monday
T1 = pd.Timestamp("2024-02-01 10:00:00.123456", tz="UTC")


def week(days: int) -> list[dt.date]:
    """``days`` consecutive dates from Monday 2024-01-01."""
    return [MON + dt.timedelta(days=i) for i in range(days)]


def sort_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """Bars in the stores' key order."""
    return frame.sort_values(["symbol", "ts"]).reset_index(drop=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[:, list(BAR_COLUMNS)].astype(BAR_DTYPES)


# -- validated bars -----------------------------------------------------------------------------------------


def bars(
    symbols: Sequence[str],
    days: Sequence[dt.date],
    ingested_at: pd.Timestamp = T1,
    base: float = 100.0,
    **values: object,
) -> pd.DataFrame:
    """Valid bars, one per symbol and day, with prices that differ per row; ``values`` replace columns."""
    keys = pd.MultiIndex.from_product([symbols, [utc_midnight(d) for d in days]], names=["symbol", "ts"])
    frame = keys.to_frame(index=False)
    close = base + np.arange(len(frame)) * 1.25
    frame = frame.assign(
        open=close - 0.5, high=close + 1, low=close - 1, close=close, adj_close=close * 0.99, volume=1000.0
    )
    frame = frame.assign(source="synthetic", ingested_at=ingested_at)
    return _typed(frame.assign(**values))


def business_day_bars(symbols: Sequence[str], days: int, start: str = "2024-01-01", bump: float = 0.0) -> pd.DataFrame:
    """Business-day bars with distinct values per symbol and day; every 7th adj_close missing (NULL)."""
    dates = pd.bdate_range(start, periods=days, tz="UTC")
    ingested = pd.Timestamp("2024-12-01T10:00:00.123456", tz="UTC")
    rows = []
    for k, symbol in enumerate(symbols):
        for i, ts in enumerate(dates):
            base = 100.0 * (k + 1) + i + bump + 0.123456789
            adj = np.nan if i % 7 == 0 else base * 0.99
            rows.append((symbol, ts, base, base + 2, base - 2, base + 1, adj, 1_000.0 + i, "synthetic", ingested))
    return pd.DataFrame(rows, columns=list(BAR_COLUMNS)).astype(BAR_DTYPES)


def daily_bars(
    symbols: Sequence[str] = ("AAPL", "MSFT", "EURUSD=X"), days: int = 20, ingested: str = "2024-03-01T12:00:00"
) -> pd.DataFrame:
    """Calendar-day bars from 2024-01-01, symbol by symbol: open 10+i, close 11+i, the first adj_close NaN."""
    ts = pd.date_range("2024-01-01", periods=days, freq="D", tz="UTC")
    rows = [
        {
            "symbol": s,
            "ts": t,
            "open": 10.0 + i,
            "high": 12.0 + i,
            "low": 9.0 + i,
            "close": 11.0 + i,
            "adj_close": np.nan if i == 0 else 11.0 + i,
            "volume": 1000.0 * (i + 1),
            "source": "test",
            "ingested_at": pd.Timestamp(ingested, tz="UTC"),
        }
        for s in symbols
        for i, t in enumerate(ts)
    ]
    return pd.DataFrame(rows).astype({"ts": "datetime64[us, UTC]", "ingested_at": "datetime64[us, UTC]"})


def bar_message(symbol: str, day: int, ingested: str = "2024-03-01T12:00:00+00:00") -> BarMessage:
    """A decoded daily bar of ``symbol`` on 2024-01-01 + ``day`` days; its prices are ``day``, so a test reads the
    day back from ``close``."""
    ts = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)
    ingested_at = dt.datetime.fromisoformat(ingested)
    return BarMessage(symbol, ts, day, day, day, float(day), None, 1.0, "test", ingested_at, "ingest")


def random_walk_bars(
    symbols: Sequence[str] = ("AAA", "BBB"), start: str = "2019-11-01", end: str = "2021-03-31", seed: int = 1
) -> pd.DataFrame:
    """Business-day bars with a random-walk close; the default years 2019..2021 so ranges cross years."""
    days = pd.bdate_range(start, end, tz="UTC").as_unit("us")
    rng = np.random.default_rng(seed)
    parts = []
    for symbol in symbols:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        parts.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": days,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "adj_close": close,
                    "volume": 1000.0,
                    "source": "test",
                    "ingested_at": pd.Timestamp("2024-01-01", tz="UTC").as_unit("us"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


# -- raw and rejected rows ----------------------------------------------------------------------------------


def raw_rows(day: dt.date) -> pd.DataFrame:
    """Four raw rows of one day as a file gives them: odd text, a missing ts, a missing symbol, odd payloads."""
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "MSFT", None],
            "ts": [utc_midnight(day), utc_midnight(day), pd.NaT, utc_midnight(day)],
            "open": ["1.50", "", "NaN", None],
            "high": [" 2 ", "x", "1e3", "Ünïcode €"],
            "low": ["1", "1", "1", "1"],
            "close": ["1,5", '"quoted"', "line\nbreak", "\\N"],
            "adj_close": [None, None, None, None],
            "volume": ["100", "-5", "0", "1e9"],
            "source": "csv:/data",
            "partition_date": day,
            "payload": ['{"file": "a.csv",  "line": 2}', None, '{"b": [1, 2], "a": null}', "{}"],
        }
    )
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    return frame.loc[:, list(RAW_COLUMNS)]


def numeric_raw_rows(day: dt.date) -> pd.DataFrame:
    """Values as a source that delivers numbers gives them: float64 (NaN for "no value") and nullable Int64."""
    raw = raw_rows(day).iloc[:3].copy()
    for column in ("open", "high", "low", "close", "adj_close"):
        raw[column] = pd.Series([101.5, 0.1 + 0.2, np.nan], dtype="float64")
    raw["low"] = pd.Series([100.0, -0.0, 1e-5], dtype="float64")
    raw["volume"] = pd.Series([12345, None, 10**17], dtype="Int64")
    return raw


def rejected_rows(days: Sequence[dt.date], per_day: int, tag: str = "a") -> pd.DataFrame:
    """``per_day`` rejected rows (symbols R0, R1, ...) on each day, payload JSON naming ``tag`` and the line."""
    rows = [
        {
            "symbol": f"R{i}",
            "ts": utc_midnight(day),
            "partition_date": day,
            "source": "synthetic",
            "payload": f'{{"tag": "{tag}", "line": {i}}}',
            "reasons": ["high < low", "volume < 0"],
            "rejected_at": T1,
        }
        for day in days
        for i in range(per_day)
    ]
    if not rows:
        return empty_rejected()
    frame = pd.DataFrame(rows)
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    frame["rejected_at"] = frame["rejected_at"].astype("datetime64[us, UTC]")
    return frame


# -- what a source reads ------------------------------------------------------------------------------------

YAHOO_EXPORT_COLUMNS = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")


def yahoo_exports(raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Raw rows with numeric values as Yahoo's daily export lays them out: one frame per symbol (sorted), the
    trading date as ``Date`` (``datetime.date``), then Open..Volume as float64."""
    exports = {}
    for symbol, rows in raw.groupby("symbol", sort=True):
        names = zip(YAHOO_EXPORT_COLUMNS[1:], VALUE_COLUMNS, strict=True)
        values = {name: rows[c].astype("float64").to_numpy() for name, c in names}
        frame = pd.DataFrame({"Date": rows["partition_date"].to_numpy(), **values})
        exports[str(symbol)] = frame.loc[:, list(YAHOO_EXPORT_COLUMNS)]
    return exports
