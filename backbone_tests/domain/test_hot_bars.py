"""Symbol spans and cache windows of the hot bars (plain Python)."""

from __future__ import annotations

import datetime as dt

from backbone_domain import hot_bars
from backbone_tests.builders import business_day_bars


def test_spans_and_windows():
    bars = business_day_bars(["A", "B"], 10)
    spans = hot_bars.symbol_spans(bars)
    assert spans["A"] == (dt.date(2024, 1, 1), dt.date(2024, 1, 12))
    merged = hot_bars.merge_spans(spans, {"A": (dt.date(2023, 12, 1), dt.date(2024, 1, 2))})
    assert merged["A"] == (dt.date(2023, 12, 1), dt.date(2024, 1, 12))
    assert hot_bars.window_start(dt.date(2025, 1, 1), 260) < dt.date(2024, 1, 1)
