"""The BarStore contract for versions and their provenance (``bar_history``, ``bar_loads``), on every backend.

As-of reads are proved in test_contract.py (``test_as_of_reads_return_what_was_known_at_each_moment``); here
every version of a bar is listed with when it was known and which run and source wrote and replaced it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from backbone_domain.bar_history import HISTORY_COLUMNS, HISTORY_DTYPES, BarLoad
from backbone_domain.bars import empty_rejected, utc_midnight
from backbone_domain.version_audit import VERSION_KEY, layer_versions
from backbone_resources.store.base import BarStore, PrunedVersions, VersionCounts
from backbone_tests.builders import bars, week

DAYS = week(3)
T1, T2, T3, T4, T5 = (pd.Timestamp(f"2024-03-0{d}T08:00:00.000001", tz="UTC") for d in (1, 2, 3, 4, 5))


def _load(at: pd.Timestamp, run_id: str | None, source: str = "csv") -> BarLoad:
    return BarLoad(at.to_pydatetime(), run_id, source, DAYS[0], DAYS[-1])


def test_history_lists_every_version_with_its_interval_run_and_source(store: BarStore) -> None:
    first = bars(["AAPL", "MSFT"], DAYS, ingested_at=T1, source="csv")
    second = first.iloc[[0]].assign(close=first["close"].iloc[[0]] + 0.5, source="vendor", ingested_at=T2)
    third = second.assign(high=second["high"] + 2, ingested_at=T3)
    store.write_validated(DAYS[0], DAYS[-1], first, empty_rejected(), load=_load(T1, "run-1"))
    store.write_validated(DAYS[0], DAYS[-1], second, empty_rejected(), load=_load(T2, "run-2", "vendor"))
    store.write_validated(DAYS[0], DAYS[-1], third, empty_rejected(), load=_load(T3, "run-3", "vendor"))
    # A re-run that changes nothing: no version; the current version keeps its stamp and run-3.
    again = third.assign(ingested_at=T4)
    assert store.write_validated(DAYS[0], DAYS[-1], again, empty_rejected(), load=_load(T4, "run-4")).bars == 0

    history = store.bar_history("AAPL", DAYS[0])

    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert history.dtypes.astype(str).to_dict() == HISTORY_DTYPES
    assert history["known_from"].tolist() == [T1, T2, T3]
    assert history["known_to"].tolist()[:2] == [T2, T3]
    assert pd.isna(history["known_to"].iloc[2])  # the current version
    assert history["reason"].tolist() == ["corrected", "corrected", None]
    assert history["run_id"].tolist() == ["run-1", "run-2", "run-3"]
    assert history["replaced_by_run"].tolist() == ["run-2", "run-3", None]
    assert history["replaced_by_source"].tolist() == ["vendor", "vendor", None]
    assert history["source"].tolist() == ["csv", "vendor", "vendor"]
    expected = pd.concat([first.iloc[[0]], second, third])
    for column in ("open", "high", "low", "close", "adj_close", "volume"):
        assert history[column].tolist() == expected[column].tolist(), column
    assert (history["ts"] == utc_midnight(DAYS[0])).all()
    assert set(history["symbol"]) == {"AAPL"}

    untouched = store.bar_history("MSFT", DAYS[0])
    assert (len(untouched), untouched["run_id"].iloc[0], untouched["reason"].iloc[0]) == (1, "run-1", None)
    never = store.bar_history("AAPL", DAYS[0] - dt.timedelta(days=1))
    assert never.empty
    assert list(never.columns) == list(HISTORY_COLUMNS)


def test_a_retired_bar_names_the_run_that_retired_it_and_an_unrecorded_run_reads_as_unknown(store: BarStore) -> None:
    store.write_validated(DAYS[0], DAYS[-1], bars(["MSFT"], DAYS, ingested_at=T1), empty_rejected())  # no load
    gone = bars(["MSFT"], DAYS[1:2])[["symbol", "ts"]]

    store.write_validated(DAYS[0], DAYS[-1], bars([], []), empty_rejected(), gone, load=_load(T5, "run-5", "csv"))

    [retired] = store.bar_history("MSFT", DAYS[1]).itertuples()
    assert (retired.known_from, retired.known_to, retired.reason) == (T1, T5, "retired")
    assert (retired.run_id, retired.replaced_by_run, retired.replaced_by_source) == (None, "run-5", "csv")
    assert store.read_bars(DAYS[1], DAYS[1]).empty
    before = store.read_bars(DAYS[1], DAYS[1], as_of=(T5 - pd.Timedelta(microseconds=1)).to_pydatetime())
    assert before["close"].tolist() == [retired.close]  # known until the retiring run's stamp, not after
    assert store.read_bars(DAYS[1], DAYS[1], as_of=T5.to_pydatetime()).empty
    [kept] = store.bar_history("MSFT", DAYS[0]).itertuples()
    assert (kept.run_id, kept.reason) == (None, None)  # written without a load: provenance unknown


def test_retention_deletes_versions_superseded_before_the_horizon_and_loads_nothing_refers_to(store: BarStore) -> None:
    first = bars(["AAPL", "MSFT"], DAYS, ingested_at=T1)
    second = first.iloc[[0]].assign(close=first["close"].iloc[[0]] + 0.5, ingested_at=T2)
    third = second.assign(close=second["close"] + 0.5, ingested_at=T4)
    for frame, at in ((first, T1), (second, T2), (third, T4)):
        store.write_validated(DAYS[0], DAYS[-1], frame, empty_rejected(), load=_load(at, f"run-{at.day}"))
    current = store.read_bars(DAYS[0], DAYS[-1])
    assert store.version_counts() == VersionCounts(len(first), 2, T2.to_pydatetime())

    # T3: the first version (T1..T2) goes; run-1 stays (its other bars are current), run-2 too (a kept version).
    assert store.prune_versions(T3.to_pydatetime()) == PrunedVersions(versions=1, loads=0)
    history = store.bar_history("AAPL", DAYS[0])
    assert history["known_from"].tolist() == [T2, T4]
    assert history["run_id"].tolist() == ["run-2", "run-4"]
    assert store.read_bars(DAYS[0], DAYS[0], ["AAPL"], as_of=T3.to_pydatetime())["close"].tolist() == [
        second["close"].iloc[0]
    ]  # exact from the horizon on
    assert store.read_bars(DAYS[0], DAYS[0], ["AAPL"], as_of=(T1 + pd.Timedelta(hours=1)).to_pydatetime()).empty
    assert store.version_counts() == VersionCounts(len(first), 1, T4.to_pydatetime())

    # T5: the second version goes, and run-2 with it: nothing refers to it any more. run-1 and run-4 stay.
    assert store.prune_versions(T5.to_pydatetime()) == PrunedVersions(versions=1, loads=1)
    [only] = store.bar_history("AAPL", DAYS[0]).itertuples()
    assert (only.known_from, only.run_id, only.reason) == (T4, "run-4", None)
    assert store.bar_history("MSFT", DAYS[0])["run_id"].tolist() == ["run-1"]
    assert store.version_counts() == VersionCounts(len(first), 0, None)
    assert store.prune_versions(T5.to_pydatetime()) == PrunedVersions(versions=0, loads=0)
    pd.testing.assert_frame_equal(store.read_bars(DAYS[0], DAYS[-1]), current)  # current bars never touched


def test_version_keys_list_current_and_kept_versions_and_a_pruned_one_becomes_unknown(store: BarStore) -> None:
    first = bars(["AAPL", "MSFT"], DAYS[:2], ingested_at=T1)
    store.write_validated(DAYS[0], DAYS[-1], first, empty_rejected(), load=_load(T1, "run-1"))
    corrected = first.iloc[[0]].assign(close=first["close"].iloc[[0]] + 0.5, ingested_at=T2)
    store.write_validated(DAYS[0], DAYS[-1], corrected, empty_rejected(), load=_load(T2, "run-2"))
    day0, day1 = (utc_midnight(d) for d in DAYS[:2])

    held = store.version_keys(DAYS[0], DAYS[-1])

    assert list(held.columns) == list(VERSION_KEY)
    assert held["ts"].dtype == held["ingested_at"].dtype == "datetime64[us, UTC]"
    assert held.values.tolist() == [
        ["AAPL", day0, T1],
        ["AAPL", day0, T2],
        ["AAPL", day1, T1],
        ["MSFT", day0, T1],
        ["MSFT", day1, T1],
    ]
    assert store.version_keys(DAYS[1], DAYS[1], ["MSFT"]).values.tolist() == [["MSFT", day1, T1]]

    store.prune_versions(T3.to_pydatetime())  # a layer that kept AAPL's first version now holds an unknown one
    verdict = layer_versions("cache", held, store.version_keys(DAYS[0], DAYS[-1]))
    assert (verdict.unknown, verdict.examples) == (1, (f"AAPL {DAYS[0]} ingested {T1.isoformat()}",))
