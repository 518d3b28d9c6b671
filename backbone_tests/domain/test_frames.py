"""Raw rows into Arrow: numbers kept as numbers read back as exactly the text the text landing gives them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from backbone_domain import frames
from backbone_domain.bars import RAW_COLUMNS, VALUE_COLUMNS, empty_raw


def _numeric_raw(rows: int, seed: int) -> pd.DataFrame:
    """Floats of every magnitude and spelling trap (whole, tiny, huge, negative zero, NaN, inf) and integers."""
    rng = np.random.default_rng(seed)
    traps = np.array([0.0, -0.0, 1.0, 100.0, 1e-5, 1e-4, 1e16, 1e17, 123456789.125, np.nan, np.inf, -np.inf])
    floats = np.where(
        rng.random(rows) < 0.3, rng.choice(traps, rows), rng.lognormal(3, 4, rows) * rng.choice([-1, 1], rows)
    )
    frame = empty_raw().reindex(range(rows))
    for column in VALUE_COLUMNS:
        frame[column] = rng.permutation(floats)
    frame["volume"] = pd.array(rng.integers(-(2**62), 2**62, rows), dtype="Int64")
    frame.loc[::7, "volume"] = pd.NA
    frame["symbol"], frame["source"], frame["partition_date"] = "AAPL", "test", pd.Timestamp("2024-01-02").date()
    frame["ts"] = pd.Timestamp("2024-01-02", tz="UTC")
    return frame.loc[:, list(RAW_COLUMNS)]


def test_numbers_kept_as_numbers_give_the_same_text_as_the_text_landing() -> None:
    for seed in range(5):
        raw = _numeric_raw(2_000, seed)

        kept = frames.raw_table(raw, keep_numbers=True)

        assert kept.schema.field("open").type == pa.float64()
        assert kept.schema.field("volume").type == pa.int64()
        assert frames.raw_values_as_text(kept).equals(frames.raw_table(raw))


def test_text_columns_stay_text_when_numbers_are_kept() -> None:
    raw = _numeric_raw(10, 0)
    raw["open"] = raw["open"].map(repr).astype(object)  # a source that delivered text keeps its text

    kept = frames.raw_table(raw, keep_numbers=True)

    assert kept.schema.field("open").type == pa.string()
    assert kept.column("open").to_pylist() == raw["open"].tolist()


def test_raw_frame_keeps_numbers_as_numbers_and_nulls_as_missing() -> None:
    kept = frames.raw_table(_numeric_raw(50, 1), keep_numbers=True)

    frame = frames.raw_frame(kept)

    assert str(frame["open"].dtype) == "float64"
    assert str(frame["volume"].dtype) == "Int64"
    assert frame["volume"].isna().sum() == 8
    assert frame["symbol"].map(type).eq(str).all()
