"""What changed between two versions of a bar, and the load record's own rule (``backbone_domain.bar_history``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from backbone_domain.bar_history import BarLoad, changes
from backbone_tests.builders import bars


def test_changes_name_each_differing_column_old_then_new_and_a_missing_value_equals_a_missing_value() -> None:
    older = bars(["AAPL"], [dt.date(2024, 1, 2)], adj_close=np.nan).iloc[0]

    assert changes(older, older.copy()) == {}
    newer = older.copy()
    newer["close"], newer["adj_close"], newer["source"] = 101.5, 100.0, "vendor"
    assert changes(older, newer) == {
        "close": (100.0, 101.5),
        "adj_close": (None, 100.0),
        "source": ("synthetic", "vendor"),
    }
    assert changes(newer, older)["adj_close"] == (100.0, None)
    newer["ingested_at"] = newer["ingested_at"] + dt.timedelta(days=1)  # when it was learned is not a change of value
    assert "ingested_at" not in changes(older, newer)


def test_a_load_refuses_a_naive_stamp() -> None:
    with pytest.raises(ValueError, match="ingested_at must be timezone-aware"):
        BarLoad(dt.datetime(2024, 3, 12, 8), "run", "csv", dt.date(2024, 1, 2), dt.date(2024, 1, 2))
