"""Bars from Yahoo Finance through the optional ``yfinance`` package (``pip install 'backbone[yahoo]'``).

``yfinance`` is imported inside ``fetch`` so that backbone installs and runs without it; asking for this
source without it fails with the install command instead of an ImportError at start-up. Symbols stay
backbone's (``EURUSD``); only the request uses Yahoo's tickers (``EURUSD=X``).

Yahoo answers an outage, a rate limit and a range with no trading days the same way: with nothing. An empty
answer for every symbol is an error only when the range holds a past trading day of some symbol (data should
exist); a weekend or today's not-yet-closed session returns an empty frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from backbone_domain.bars import RAW_COLUMNS, empty_raw
from backbone_domain.calendars import calendar_kind, session_numbers
from backbone_resources.source.base import BarSource, SourceUnavailable
from backbone_resources.source.synthetic import DEFAULT_UNIVERSE

INSTALL_HINT: Final = "BACKBONE_SOURCE=yahoo needs the optional extra: pip install 'backbone[yahoo]'"
# Yahoo's column -> backbone's; Adj Close is absent when yfinance adjusts prices itself.
_COLUMNS: Final = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


def yahoo_ticker(symbol: str) -> str:
    """Yahoo's ticker for a backbone symbol: currency pairs take the ``=X`` suffix, the rest are unchanged."""
    if calendar_kind(symbol) == "fx" and not symbol.endswith("=X"):
        return f"{symbol}=X"
    return symbol


def _per_ticker(frame: pd.DataFrame, tickers: list[str]) -> dict[str, pd.DataFrame]:
    """yfinance's answer split by ticker, whatever its column layout (ticker first, price first, flat)."""
    if frame is None or frame.empty:
        return {}
    if not isinstance(frame.columns, pd.MultiIndex):
        return {tickers[0]: frame} if len(tickers) == 1 else {}
    for level in range(frame.columns.nlevels):
        present = set(frame.columns.get_level_values(level))
        if present & set(tickers):
            return {t: frame.xs(t, axis=1, level=level) for t in tickers if t in present}
    return {}


def _bars(symbol: str, frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One ticker's rows in RAW_COLUMNS; values as Yahoo gave them."""
    prices = [c for c in _COLUMNS if c in frame.columns and c != "Adj Close"]
    # yfinance aligns all tickers on one index, so a ticker gets all-NaN rows on the others' dates: those are
    # artifacts of the join, not records Yahoo holds.
    frame = frame[frame[prices].notna().any(axis=1)] if prices else frame.iloc[:0]
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:  # the exchange's wall-clock date is the trading date
        index = index.tz_localize(None)
    days = index.normalize()
    keep = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
    frame, days = frame[keep], days[keep]
    out: dict[str, Any] = {
        "symbol": np.full(len(frame), symbol, dtype=object),
        "ts": days.as_unit("us").tz_localize("UTC"),
    }
    for column, name in _COLUMNS.items():
        out[name] = (
            frame[column].to_numpy(dtype=object) if column in frame.columns else np.full(len(frame), None, dtype=object)
        )
    out["source"] = np.full(len(frame), "yahoo", dtype=object)
    out["partition_date"] = np.array(days.date, dtype=object)
    out["payload"] = np.full(len(frame), None, dtype=object)
    return pd.DataFrame({c: pd.Series(out[c], dtype=object) if c != "ts" else out[c] for c in RAW_COLUMNS})


def _data_expected(symbols: list[str], start: dt.date, end: dt.date) -> bool:
    """Whether some symbol has a session in [start, end] that has already closed (before today, UTC)."""
    last = min(end, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    return last >= start and any(session_numbers(s, start, last).size for s in symbols)


class YahooSource(BarSource):
    """Daily bars from Yahoo Finance; ``symbols`` empty = the synthetic source's default universe."""

    symbols: list[str] = []

    @property
    def name(self) -> str:
        return "yahoo"

    def universe(self) -> list[str]:
        return [s.upper() for s in self.symbols] if self.symbols else list(DEFAULT_UNIVERSE)

    def fetch(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        try:
            import yfinance
        except ImportError:
            raise SourceUnavailable(INSTALL_HINT) from None
        wanted = sorted({s.upper() for s in (self.universe() if symbols is None else symbols)})
        if not wanted or end < start:
            return empty_raw()
        tickers = {yahoo_ticker(s): s for s in wanted}
        try:
            answer = yfinance.download(
                list(tickers),
                start=start.isoformat(),
                end=(end + dt.timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
                interval="1d",
                auto_adjust=False,
                actions=False,
                group_by="ticker",
                progress=False,
            )
        except Exception as exc:  # noqa: BLE001 - any failure of the optional client means the same: no data
            cause = (str(exc).splitlines() or [""])[0][:200]
            raise SourceUnavailable(f"BACKBONE_SOURCE=yahoo: download failed ({type(exc).__name__}: {cause})") from None

        frames = [_bars(tickers[t], f, start, end) for t, f in _per_ticker(answer, list(tickers)).items()]
        frames = [f for f in frames if len(f)]
        if not frames:
            if _data_expected(wanted, start, end):
                raise SourceUnavailable(
                    f"BACKBONE_SOURCE=yahoo: no data for any of {len(wanted)} symbols in {start}..{end} "
                    "(offline, rate-limited, or unknown tickers)"
                )
            return empty_raw()
        return pd.concat(frames, ignore_index=True).sort_values(["symbol", "ts"], kind="stable", ignore_index=True)
