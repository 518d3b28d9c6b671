"""Daily log returns and 20-day realized volatility: the definition, and a pandas reference of it.

The engines compute these in SQL (``backbone_resources/batch/queries.py``); this reference is what the tests
hold both engines to, so the definition is written down once in plain Python:
``log_return`` = ln(close / previous close) per symbol (null on the first bar), ``realized_vol_20d`` = sample
standard deviation (ddof=1) of the last 20 log returns × √252, null until 20 returns exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VOL_WINDOW = 20
ANNUALIZATION_DAYS = 252
RETURNS_COLUMNS = ("symbol", "ts", "log_return", "realized_vol_20d")


def returns_reference(bars: pd.DataFrame) -> pd.DataFrame:
    """RETURNS_COLUMNS for ``bars`` (symbol, ts, close), ordered by symbol, ts. For tests and small data:
    it holds the whole frame in memory."""
    ordered = bars.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
    previous = ordered.groupby("symbol", sort=False)["close"].shift()
    log_return = np.log(ordered["close"] / previous)
    vol = log_return.groupby(ordered["symbol"], sort=False).rolling(VOL_WINDOW, min_periods=VOL_WINDOW).std(
        ddof=1
    ).reset_index(level=0, drop=True) * np.sqrt(ANNUALIZATION_DAYS)
    return pd.DataFrame(
        {"symbol": ordered["symbol"], "ts": ordered["ts"], "log_return": log_return, "realized_vol_20d": vol}
    )
