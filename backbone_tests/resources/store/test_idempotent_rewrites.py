"""Re-storing bars whose values did not change keeps the stored version (``ingested_at``), on every backend.

A re-run of a partition re-ingests with a newer ``ingested_at``; if that bumped the stored version, every export,
message version and cache entry derived from the store would change although no bar did.
"""

from __future__ import annotations

import pandas as pd

from backbone_domain.bars import empty_rejected
from backbone_resources.store.base import BarStore
from backbone_tests.builders import MON, T1, bars, sort_bars, week


def test_unchanged_bars_keep_their_version_and_count_as_unchanged(store: BarStore) -> None:
    days = week(3)
    first = bars(["AAPL", "MSFT"], days, T1, 100)
    assert store.write_validated(MON, days[-1], first, empty_rejected()).bars == 6

    rerun = bars(["AAPL", "MSFT"], days, T1 + pd.Timedelta(hours=1), 100)  # same values, newer delivery
    assert store.write_validated(MON, days[-1], rerun, empty_rejected()).bars == 0
    pd.testing.assert_frame_equal(store.read_bars(MON, days[-1]), sort_bars(first))


def test_a_changed_bar_takes_the_new_version_and_the_others_keep_theirs(store: BarStore) -> None:
    days = week(2)
    first = bars(["AAPL"], days, T1, 100)
    store.write_validated(MON, days[-1], first, empty_rejected())

    corrected = bars(["AAPL"], days, T1 + pd.Timedelta(hours=1), 100)
    corrected.loc[1, ["close", "adj_close"]] = [250.0, 247.5]  # a late correction of the second day only
    assert store.write_validated(MON, days[-1], corrected, empty_rejected()).bars == 1

    expected = first.copy()
    expected.loc[1] = corrected.loc[1]
    pd.testing.assert_frame_equal(store.read_bars(MON, days[-1]), sort_bars(expected))


def test_a_null_adjusted_close_counts_as_a_value(store: BarStore) -> None:
    first = bars(["AAPL"], [MON], T1, 100)
    store.write_validated(MON, MON, first, empty_rejected())
    unadjusted = bars(["AAPL"], [MON], T1 + pd.Timedelta(hours=1), 100)
    unadjusted["adj_close"] = float("nan")

    assert store.write_validated(MON, MON, unadjusted, empty_rejected()).bars == 1
    assert store.read_bars(MON, MON)["adj_close"].isna().all()
    assert store.write_validated(MON, MON, unadjusted, empty_rejected()).bars == 0


def test_a_rerun_changes_only_new_and_changed_bars_and_never_a_newer_one(store: BarStore) -> None:
    days = week(3)
    store.write_validated(MON, days[-1], bars(["AAPL", "MSFT"], days, T1, 100), empty_rejected())
    newer = bars(["MSFT"], days[2:], T1 + pd.Timedelta(hours=2), 300)  # stored later than the re-run below
    store.write_validated(days[2], days[2], newer, empty_rejected())

    rerun = pd.concat(
        [bars(["AAPL", "MSFT"], days, T1 + pd.Timedelta(hours=1), 100), bars(["NVDA"], days, T1, 50)],
        ignore_index=True,
    )
    rerun.loc[2, ["close", "high"]] = [250.0, 251.0]  # AAPL's third day corrected
    rerun.loc[5, "close"] = 400.0  # MSFT's third day differs, but what is stored is newer

    assert store.write_validated(MON, days[-1], rerun, empty_rejected()).bars == 4  # AAPL day 3, NVDA x3

    stored = store.read_bars(MON, days[-1]).set_index(["symbol", "ts"])
    versions = stored["ingested_at"].groupby(level="symbol").apply(list).to_dict()
    assert versions == {
        "AAPL": [T1, T1, T1 + pd.Timedelta(hours=1)],
        "MSFT": [T1, T1, T1 + pd.Timedelta(hours=2)],
        "NVDA": [T1] * 3,
    }
    assert stored["close"].tolist()[2::3] == [250.0, 300.0, 50.0 + 2 * 1.25]
    assert store.write_validated(MON, days[-1], rerun, empty_rejected()).bars == 0
    pd.testing.assert_frame_equal(store.read_bars(MON, days[-1]).set_index(["symbol", "ts"]), stored)
