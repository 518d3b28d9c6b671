"""The change feed's grains: which (symbol, date)s, (symbol, year) partitions and ISO weeks a set of keys touches."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from backbone_domain.changes import (
    dates_by_symbol,
    no_keys,
    returns_years,
    since_watermark,
    symbol_years,
    week_spans,
)

T0 = dt.datetime(2024, 3, 1, 8, tzinfo=dt.UTC)


def _keys(*rows: tuple[str, str, bool]) -> pd.DataFrame:
    symbols, days, retired = zip(*rows, strict=True)
    ts = pd.to_datetime(list(days), utc=True).as_unit("us")
    changed = [pd.Timestamp(T0) + pd.Timedelta(minutes=i) for i in range(len(rows))]
    return pd.DataFrame(
        {"symbol": list(symbols), "ts": ts, "changed_at": pd.DatetimeIndex(changed).as_unit("us"), "retired": retired}
    )


def test_partitions_and_dates_of_the_keys() -> None:
    keys = _keys(("B", "2024-06-03", False), ("A", "2023-12-29", False), ("A", "2024-01-02", True))
    assert symbol_years(keys) == {2023: ["A"], 2024: ["A", "B"]}
    assert dates_by_symbol(keys) == {"A": [dt.date(2023, 12, 29), dt.date(2024, 1, 2)], "B": [dt.date(2024, 6, 3)]}


def test_a_correction_near_a_years_end_reaches_the_next_years_returns_and_no_other() -> None:
    assert returns_years(_keys(("A", "2024-12-20", False), ("B", "2024-06-03", False))) == {
        2024: ["A", "B"],
        2025: ["A"],
    }
    assert returns_years(_keys(("B", "2024-02-20", False))) == {2024: ["B"]}  # no next year made up
    assert returns_years(no_keys()) == {}


def test_weeks_are_monday_to_sunday_and_consecutive_ones_merge() -> None:
    keys = _keys(("A", "2024-01-03", False), ("B", "2024-01-08", False), ("A", "2024-02-01", False))
    assert week_spans(keys) == [
        (dt.date(2024, 1, 1), dt.date(2024, 1, 14)),
        (dt.date(2024, 1, 29), dt.date(2024, 2, 4)),
    ]
    assert week_spans(no_keys()) == []


def test_the_next_watermark_is_the_newest_change_or_the_same_one() -> None:
    keys = _keys(("A", "2024-01-03", False), ("B", "2024-01-08", True))
    changes = since_watermark(keys, T0)
    assert changes.through == T0 + dt.timedelta(minutes=1)
    assert (len(changes.learned), len(changes.retired)) == (1, 1)
    assert changes.span() == (dt.date(2024, 1, 3), dt.date(2024, 1, 8))
    nothing = since_watermark(no_keys(), T0)
    assert (nothing.through, nothing.span()) == (T0, None)
