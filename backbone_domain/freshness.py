"""How far each symbol's newest stored bar lags the last trading day it should have, in trading days.

Lag is counted on the symbol's own calendar (FX Sunday–Friday, equities on exchange sessions), so a Monday
morning check does not call Friday's equity bar two days stale, and a market holiday is no lag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from backbone_domain.calendars import last_trading_day, trading_days_between


@dataclass(frozen=True)
class SymbolLag:
    symbol: str
    expected: dt.date
    latest: dt.date | None
    lag_days: int | None  # None: no bar stored at all

    def within(self, max_lag_days: int) -> bool:
        return self.lag_days is not None and self.lag_days <= max_lag_days


def symbol_lags(latest: Mapping[str, dt.date], symbols: Iterable[str], as_of: dt.date) -> list[SymbolLag]:
    """One lag per symbol of the universe; ``as_of`` is the newest complete day (the last partition)."""
    lags = []
    for symbol in sorted(symbols):
        expected = last_trading_day(symbol, as_of)
        newest = latest.get(symbol)
        lag = None if newest is None else max(0, trading_days_between(symbol, newest, expected))
        lags.append(SymbolLag(symbol, expected, newest, lag))
    return lags
