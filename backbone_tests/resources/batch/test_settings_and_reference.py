"""Batch settings reach the tier's engine; the returns reference matches a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backbone_domain.returns import returns_reference
from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_batch


def test_bootstrap_exports_under_home_with_duckdb(tmp_path):
    engine = build_batch(load_settings(mode="bootstrap", home=tmp_path))
    assert type(engine).__name__ == "DuckDBBatch"
    assert engine.dataset_path("daily_bars") == f"{tmp_path.resolve()}/exports/daily_bars"


def test_institutional_spark_takes_master_conf_and_export_dir_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKBONE_SPARK_MASTER", "spark://10.0.0.5:7077")
    monkeypatch.setenv("BACKBONE_SPARK_CONF", '{"spark.executor.memory": "4g"}')
    monkeypatch.setenv("BACKBONE_EXPORT_DIR", str(tmp_path / "shared"))
    engine = build_batch(load_settings(mode="institutional", timescale_url="postgresql://u:p@127.0.0.1:1/x"))
    assert type(engine).__name__ == "SparkBatch"
    assert engine.master == "spark://10.0.0.5:7077"
    assert engine.spark.conf == {"spark.executor.memory": "4g"}
    assert engine.export_dir == str(tmp_path / "shared")


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
