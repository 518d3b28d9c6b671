"""The returns reference matches a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backbone_domain.returns import returns_reference


def test_reference_log_returns_and_volatility_by_hand():
    closes = [100 * 1.01**i * (1.02 if i % 2 else 1) for i in range(23)]
    bars = pd.DataFrame(
        {"symbol": "X", "ts": pd.date_range("2024-01-01", periods=23, tz="UTC"), "close": closes}
    ).sample(frac=1, random_state=3)  # order must not matter
    got = returns_reference(bars)
    rets = [math.log(closes[i] / closes[i - 1]) for i in range(1, 23)]
    assert np.isnan(got["log_return"].iloc[0])
    np.testing.assert_allclose(got["log_return"].iloc[1:], rets, rtol=0, atol=1e-15)
    assert got["realized_vol_20d"].iloc[:20].isna().all()
    for row in (20, 21, 22):
        window = rets[row - 20 : row]
        mean = sum(window) / 20
        expected = math.sqrt(sum((r - mean) ** 2 for r in window) / 19) * math.sqrt(252)
        assert abs(got["realized_vol_20d"].iloc[row] - expected) < 1e-12
