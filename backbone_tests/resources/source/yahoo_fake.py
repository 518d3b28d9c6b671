"""A stand-in for the optional ``yfinance`` package, installed by the ``fake_yfinance`` fixture (conftest.py).

``download`` answers as ``yfinance.download(group_by="ticker")`` does: tickers side by side on one date index,
NaN where a ticker has no row. It returns a fixed frame (``answer``), raises ``answer`` when it is an exception,
or, once ``serve`` gave it per-ticker bars, cuts them to the asked tickers and range (``end`` exclusive).
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

PRICES = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def side_by_side(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-ticker frames joined on their dates, columns (Ticker, Price): yfinance's ``group_by="ticker"``."""
    return pd.concat(frames, axis=1, names=["Ticker", "Price"])


def yahoo_frame(ticker_first: bool = True) -> pd.DataFrame:
    """What ``yfinance.download(group_by="ticker")`` returns: tickers on one index, NaN where absent."""
    index = pd.DatetimeIndex(["2024-07-03", "2024-07-04", "2024-07-05"], name="Date")
    aapl = [
        [220.0, 221.5, 219.0, 221.55, 220.9, 37_369_800],
        [np.nan] * 6,
        [221.6, 226.4, 221.6, 226.3, 225.6, 60e6],
    ]
    fx = [
        [1.0745, 1.0795, 1.0740, 1.0746, 1.0746, 0],
        [1.0792, 1.0816, 1.0785, 1.0791, 1.0791, 0],
        [np.nan] * 6,
    ]
    frames = {"AAPL": pd.DataFrame(aapl, index=index, columns=PRICES)}
    frames["EURUSD=X"] = pd.DataFrame(fx, index=index, columns=PRICES)
    joined = side_by_side(frames)
    return joined if ticker_first else joined.swaplevel(axis=1)


class FakeYfinance(types.ModuleType):
    """The ``yfinance`` module as backbone uses it: ``download`` only, every call recorded in ``calls``."""

    def __init__(self) -> None:
        super().__init__("yfinance")
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.answer: pd.DataFrame | Exception = yahoo_frame()
        self.served: dict[str, pd.DataFrame] | None = None

    def serve(self, exports: Mapping[str, pd.DataFrame]) -> None:
        """Answer from these per-ticker bars (a ``Date`` column, then ``PRICES``) instead of ``answer``."""
        self.served = {t: f.set_index(pd.DatetimeIndex(f["Date"], name="Date"))[PRICES] for t, f in exports.items()}

    def download(self, tickers: Sequence[str], **kwargs: Any) -> pd.DataFrame:
        self.calls.append((list(tickers), kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.served is None:
            return self.answer
        start, end = pd.Timestamp(kwargs["start"]), pd.Timestamp(kwargs["end"])
        frames = {t: f[(f.index >= start) & (f.index < end)] for t, f in self.served.items() if t in tickers}
        frames = {t: f for t, f in frames.items() if len(f)}
        return side_by_side(frames) if frames else pd.DataFrame()
