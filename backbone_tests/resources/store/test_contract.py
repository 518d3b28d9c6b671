"""The BarStore contract, run over every backend: DuckDB (bootstrap), PostgreSQL and TimescaleDB (institutional).

The bars, their weekly roll-up and counts here; rejected and raw rows in test_contract_landing.py, rewrites that
change nothing in test_idempotent_rewrites.py; the backends in conftest.py. Backend specifics live in
test_<backend>_store.py.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backbone_domain.bars import (
    BAR_COLUMNS,
    BAR_DTYPES,
    WEEKLY_COLUMNS,
    empty_rejected,
    utc_midnight,
)
from backbone_resources.store.base import BAR_ARROW_SCHEMA, BarStore, QualityCounts, WriteCounts
from backbone_tests.builders import MON, T1, bars, rejected_rows, sort_bars, week
from backbone_tests.resources.store.conftest import MakeStore


def test_migrations_are_rerunnable(make_store: MakeStore) -> None:
    first = make_store()
    first.ping()
    first.write_validated(MON, MON, bars(["AAPL"], [MON]), empty_rejected())
    again = make_store()  # a second instance (another process, a restart) runs the migrations again
    again.ping()
    assert again.describe() == first.describe()
    assert len(again.read_bars(MON, MON)) == 1


def test_round_trip_is_exact(store: BarStore) -> None:
    frame = bars(["AAPL", "BRK.B", "^GSPC", "EURUSD=X"], week(5))
    frame.loc[0, "open"] = 0.1 + 0.2  # needs all 17 digits
    frame.loc[1, "high"] = 123456789.123456789
    frame.loc[2, "low"] = 1e-7
    frame.loc[[3, 7], "adj_close"] = np.nan  # NULL
    frame.loc[4, "ingested_at"] = pd.Timestamp("2024-03-01 23:59:59.999999", tz="UTC")

    counts = store.write_validated(MON, week(5)[-1], frame, empty_rejected())

    assert counts == WriteCounts(bars=20, rejected=0)
    back = store.read_bars(MON, week(5)[-1])
    assert list(back.columns) == list(BAR_COLUMNS)
    assert back.dtypes.astype(str).to_dict() == BAR_DTYPES
    pd.testing.assert_frame_equal(back, sort_bars(frame), check_exact=True)


def test_read_bars_selects_days_and_symbols(store: BarStore) -> None:
    store.write_validated(MON, week(5)[-1], bars(["AAPL", "MSFT", "IBM"], week(5)), empty_rejected())

    some = store.read_bars(week(5)[1], week(5)[2], symbols=["MSFT", "IBM"])

    assert sorted(set(some["symbol"])) == ["IBM", "MSFT"]
    assert sorted(set(some["ts"])) == [utc_midnight(week(5)[1]), utc_midnight(week(5)[2])]  # end is inclusive
    assert list(some["symbol"]) == ["IBM", "IBM", "MSFT", "MSFT"]  # ordered by symbol, ts
    empty = store.read_bars(dt.date(2030, 1, 1), dt.date(2030, 1, 2))
    assert empty.empty
    assert empty.dtypes.astype(str).to_dict() == BAR_DTYPES


def test_read_bars_table_is_typed_arrow_in_key_order(store: BarStore) -> None:
    frame = bars(["MSFT", "AAPL", "EURUSD=X"], week(3))
    frame.loc[0, "open"] = 0.1 + 0.2
    frame.loc[[1, 4], "adj_close"] = np.nan
    store.write_validated(MON, week(3)[-1], frame, empty_rejected())

    table = store.read_bars_table(MON, week(3)[-1])

    assert table.schema.remove_metadata() == BAR_ARROW_SCHEMA
    expected = sort_bars(frame)
    assert table.column("symbol").to_pylist() == expected["symbol"].tolist()
    assert table.column("ts").to_pylist() == expected["ts"].dt.to_pydatetime().tolist()
    assert table.column("open").to_pylist() == expected["open"].tolist()  # exact, 0.30000000000000004 included
    missing = [i for i, v in enumerate(table.column("adj_close").to_pylist()) if v is None]
    assert missing == np.flatnonzero(expected["adj_close"].isna()).tolist()  # NULL in Arrow, not NaN
    assert table.column("ingested_at").to_pylist() == [T1.to_pydatetime()] * len(frame)
    pd.testing.assert_frame_equal(store.read_bars(MON, week(3)[-1]), expected)  # the frame is derived from it

    some = store.read_bars_table(week(3)[1], week(3)[1], symbols=["MSFT"])
    assert (some.num_rows, some.column("symbol").to_pylist()) == (1, ["MSFT"])
    empty = store.read_bars_table(dt.date(2030, 1, 1), dt.date(2030, 1, 2))
    assert (empty.num_rows, empty.schema.remove_metadata()) == (0, BAR_ARROW_SCHEMA)


def test_rewrites_keep_one_row_per_key_and_the_newest_values(store: BarStore) -> None:
    days = week(3)
    for n in range(3):
        store.write_validated(
            MON, days[-1], bars(["AAPL", "MSFT"], days, T1 + pd.Timedelta(hours=n), 100 + n), empty_rejected()
        )
    newest = bars(["AAPL", "MSFT"], days, T1 + pd.Timedelta(hours=2), 102)

    pd.testing.assert_frame_equal(store.read_bars(MON, days[-1]), sort_bars(newest))

    older = bars(["AAPL", "MSFT"], days, T1 - pd.Timedelta(days=1), 500)  # a late, stale delivery
    store.write_validated(MON, days[-1], older, empty_rejected())
    pd.testing.assert_frame_equal(store.read_bars(MON, days[-1]), sort_bars(newest))
    assert store.range_counts(MON, days[-1]).bars == 6
    assert store.quality_counts().duplicate_keys == 0


def test_holds_bars_says_whether_any_bar_is_stored_in_a_span(store: BarStore) -> None:
    days = [MON + dt.timedelta(days=i) for i in range(3)]
    assert not store.holds_bars(MON, days[-1])  # an empty store
    store.write_validated(days[1], days[1], bars(["BRK.B", "^GSPC"], [days[1]]), empty_rejected())
    assert store.holds_bars(MON, days[-1])
    assert store.holds_bars(days[1], days[1])
    assert not store.holds_bars(MON, MON)  # the day before
    assert not store.holds_bars(days[2], days[2] + dt.timedelta(days=30))  # the days after
    store.write_validated(days[2], days[2], bars(["ZZZ"], [days[2]]), empty_rejected())  # the last symbol only
    assert store.holds_bars(days[2], days[2])


def test_duplicate_keys_in_one_frame_keep_the_newest(store: BarStore) -> None:
    old = bars(["AAPL"], [MON], T1, 100)
    new = bars(["AAPL"], [MON], T1 + pd.Timedelta(minutes=5), 200)

    store.write_validated(MON, MON, pd.concat([new, old], ignore_index=True), empty_rejected())

    pd.testing.assert_frame_equal(store.read_bars(MON, MON), new)


def test_weekly_bars_follow_iso_weeks(store: BarStore) -> None:
    # Mon 2024-12-30 .. Fri 2025-01-03 is one ISO week across the year end; then a short week (Tue-Wed).
    first = [dt.date(2024, 12, 30) + dt.timedelta(days=i) for i in range(5)]
    second = [dt.date(2025, 1, 7), dt.date(2025, 1, 8)]
    frame = bars(["AAPL", "MSFT"], first + second)
    store.write_validated(first[0], second[-1], frame, empty_rejected())
    store.refresh_weekly(first[0], second[-1])

    weekly = store.read_weekly(first[0], second[-1])

    assert list(weekly.columns) == list(WEEKLY_COLUMNS)
    assert str(weekly["week"].dtype) == "datetime64[us, UTC]"
    assert str(weekly["bars"].dtype) == "int64"
    frame["week"] = frame["ts"] - pd.to_timedelta(frame["ts"].dt.weekday, unit="D")  # Monday 00:00 UTC
    expected = (
        frame.sort_values("ts")
        .groupby(["symbol", "week"], as_index=False)
        .agg(
            open=("open", "first"),
            high=("high", "max"),
            low=("low", "min"),
            close=("close", "last"),
            volume=("volume", "sum"),
            bars=("ts", "count"),
        )
    )
    expected = expected.astype({"symbol": object, "bars": "int64"})
    assert set(expected["week"]) == {pd.Timestamp("2024-12-30", tz="UTC"), pd.Timestamp("2025-01-06", tz="UTC")}
    pd.testing.assert_frame_equal(weekly.reset_index(drop=True), expected.loc[:, list(WEEKLY_COLUMNS)])
    assert list(store.read_weekly(second[0], second[-1])["week"].unique()) == []  # no week starts in [Tue, Wed]
    assert len(store.read_weekly(first[0], second[-1], symbols=["MSFT"])) == 2


def test_weekly_bars_see_rewrites_after_refresh(store: BarStore) -> None:
    days = week(5)
    store.write_validated(MON, days[-1], bars(["AAPL"], days), empty_rejected())
    store.refresh_weekly(MON, days[-1])
    store.write_validated(
        days[2], days[2], bars(["AAPL"], [days[2]], T1 + pd.Timedelta(hours=1), 900), empty_rejected()
    )
    store.refresh_weekly(days[2], days[2])

    weekly = store.read_weekly(MON, MON)

    assert weekly.loc[0, "high"] == 901.0
    assert weekly.loc[0, "bars"] == 5


def test_latest_bar_dates(store: BarStore) -> None:
    assert store.latest_bar_dates() == {}
    store.write_validated(MON, week(4)[-1], bars(["AAPL"], week(4)), empty_rejected())
    store.write_validated(MON, week(2)[-1], bars(["MSFT"], week(2)), empty_rejected())

    assert store.latest_bar_dates() == {"AAPL": week(4)[-1], "MSFT": week(2)[-1]}


def test_latest_bar_dates_of_single_bars_and_unusual_symbols(store: BarStore) -> None:
    # The PostgreSQL store walks symbols one by one through the key: the first, the last, a symbol with one
    # bar and symbols with punctuation must each be found, each with its own newest date.
    days = week(5)
    store.write_validated(MON, days[-1], bars(["^GSPC", "BRK.B", "EURUSD=X"], days), empty_rejected())
    store.write_validated(days[1], days[1], bars(["A"], [days[1]]), empty_rejected())
    store.write_validated(days[3], days[3], bars(["ZZZZ"], [days[3]]), empty_rejected())

    assert store.latest_bar_dates() == {
        "A": days[1],
        "BRK.B": days[-1],
        "EURUSD=X": days[-1],
        "ZZZZ": days[3],
        "^GSPC": days[-1],
    }


def test_quality_counts(store: BarStore) -> None:
    frame = bars(["AAPL", "MSFT"], week(3))
    frame.loc[0, "low"] = frame.loc[0, "open"] + 0.1  # low above the open
    frame.loc[1, "high"] = frame.loc[1, "close"] - 0.1  # high below the close
    frame.loc[2, ["open", "low"]] = [0.0, 0.0]  # a zero price
    store.write_validated(MON, week(3)[-1], frame, rejected_rows([MON], 2))

    assert store.quality_counts() == QualityCounts(bars=6, duplicate_keys=0, ohlc_violations=3, rejected=2)


def test_range_counts(store: BarStore) -> None:
    days = week(5)
    store.write_validated(MON, days[-1], bars(["AAPL", "MSFT"], days), rejected_rows(days[:2], 2))

    assert store.range_counts(MON, days[-1]) == WriteCounts(bars=10, rejected=4)
    assert store.range_counts(days[1], days[2]) == WriteCounts(bars=4, rejected=2)
    assert store.range_counts(days[-1] + dt.timedelta(days=1), days[-1] + dt.timedelta(days=9)) == WriteCounts(0, 0)


def test_a_failed_write_leaves_the_partition_as_it_was(store: BarStore) -> None:
    days = week(2)
    before = bars(["AAPL"], days)
    store.write_validated(MON, days[-1], before, rejected_rows(days, 1))
    bad = rejected_rows(days, 1)
    bad["source"] = None  # a rejected row without its source fails after the bars went in

    with pytest.raises(Exception):  # noqa: B017, PT011 - each backend raises its own driver's error
        store.write_validated(MON, days[-1], bars(["AAPL", "MSFT"], days, T1 + pd.Timedelta(hours=1), 700), bad)

    pd.testing.assert_frame_equal(store.read_bars(MON, days[-1]), sort_bars(before))
    assert store.range_counts(MON, days[-1]) == WriteCounts(bars=2, rejected=2)


def test_a_failed_first_write_leaves_nothing(store: BarStore) -> None:
    bad = rejected_rows([MON], 1)
    bad["source"] = None

    with pytest.raises(Exception):  # noqa: B017, PT011
        store.write_validated(MON, MON, bars(["AAPL", "MSFT"], [MON]), bad)

    assert store.read_bars(MON, MON).empty
    assert store.range_counts(MON, MON) == WriteCounts(0, 0)
    assert store.latest_bar_dates() == {}


def test_weekly_view_over_known_bars(store: BarStore) -> None:
    week1 = [MON + dt.timedelta(days=i) for i in range(5)]
    week2 = [dt.date(2024, 1, 8), dt.date(2024, 1, 9)]
    frame = pd.concat(
        [
            bars(
                ["AAA"],
                week1,
                open=[10.0, 11, 12, 13, 14],
                high=[15.0, 19, 16, 16, 16],
                low=[9.0, 8, 10, 10, 10],
                close=[11.0, 12, 13, 14, 15.5],
                volume=[1.0, 2, 3, 4, 5],
            ),
            bars(["AAA"], week2, open=[20.0, 21], high=[22.0, 23], low=[19.0, 18], close=[21.0, 22.5]),
            bars(["BBB"], week2, open=[100.0, 101], high=[101.0, 102], low=[99.0, 100], close=[100.0, 101]),
        ]
    ).sample(frac=1, random_state=3)  # arg_min/arg_max must follow ts, not insertion order
    store.write_validated(MON, week2[-1], frame, empty_rejected())
    store.refresh_weekly(MON, week2[-1])  # the contract's step (a no-op for DuckDB's plain view)

    weekly = store.read_weekly(MON, dt.date(2024, 1, 8))
    expected = pd.DataFrame(
        {
            "symbol": ["AAA", "AAA", "BBB"],
            "week": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-08"], utc=True).as_unit("us"),
            "open": [10.0, 20.0, 100.0],
            "high": [19.0, 23.0, 102.0],
            "low": [8.0, 18.0, 99.0],
            "close": [15.5, 22.5, 101.0],
            "volume": [15.0, 2000.0, 2000.0],
            "bars": [5, 2, 2],
        }
    ).astype({"symbol": object})
    pd.testing.assert_frame_equal(weekly, expected)
    # Weeks that *start* in the range; a symbol filter.
    assert store.read_weekly(dt.date(2024, 1, 2), dt.date(2024, 1, 31))["week"].dt.day.tolist() == [8, 8]
    assert store.read_weekly(MON, dt.date(2024, 1, 31), ["BBB"])["symbol"].tolist() == ["BBB"]


def test_newest_ingested_at_wins_and_rejected_rows_are_replaced(store: BarStore) -> None:
    old, new = T1, T1 + pd.Timedelta(days=1)
    store.write_validated(MON, MON, bars(["AAA"], [MON], new, close=2.0), rejected_rows([MON], 3))
    # Older data and a duplicate key inside one frame: the newest row per key wins.
    both = pd.concat([bars(["AAA"], [MON], old, close=1.0), bars(["AAA"], [MON], new, close=3.0)])
    counts = store.write_validated(MON, MON, both, rejected_rows([MON], 1))
    assert counts == WriteCounts(bars=1, rejected=1)
    assert store.read_bars(MON, MON)["close"].tolist() == [3.0]
    assert store.write_validated(MON, MON, bars(["AAA"], [MON], old), empty_rejected()).bars == 0
    assert store.range_counts(MON, MON) == WriteCounts(bars=1, rejected=0)


def test_as_of_reads_return_what_was_known_at_each_moment(store: BarStore) -> None:
    days = week(5)
    t1, t2, t3 = (pd.Timestamp(f"2024-03-0{d}T08:00:00", tz="UTC") for d in (1, 2, 3))
    first = bars(["AAPL", "MSFT"], days, ingested_at=t1)
    second = first.iloc[[1, 6]].assign(close=first["close"].iloc[[1, 6]] + 0.5, ingested_at=t2)  # two corrected
    third = second.iloc[[0]].assign(high=second["high"].iloc[[0]] + 2, ingested_at=t3)  # one corrected twice
    late = bars(["IBM"], days[:1], ingested_at=t3)  # first learned at t3
    store.write_validated(days[0], days[-1], first, empty_rejected())
    store.write_validated(days[0], days[-1], second, empty_rejected())
    store.write_validated(days[0], days[-1], third, empty_rejected())
    store.write_validated(days[0], days[-1], late, empty_rejected())
    store.write_validated(days[0], days[-1], third, empty_rejected())  # a re-run changes nothing: no version

    def known(*frames: pd.DataFrame) -> pd.DataFrame:
        newest = pd.concat(frames).drop_duplicates(["symbol", "ts"], keep="last")
        return sort_bars(newest.reset_index(drop=True))

    for moment, expected in [
        (t1 - pd.Timedelta(seconds=1), known(first).iloc[0:0]),
        (t1, known(first)),
        (t2 + pd.Timedelta(hours=1), known(first, second)),
        (t3, known(first, second, third, late)),
    ]:
        back = store.read_bars(days[0], days[-1], as_of=moment.to_pydatetime())
        pd.testing.assert_frame_equal(back.reset_index(drop=True), expected.reset_index(drop=True), check_exact=True)
    pd.testing.assert_frame_equal(store.read_bars(days[0], days[-1]), known(first, second, third, late))
    assert store.read_bars(days[0], days[-1], ["MSFT"], as_of=t1.to_pydatetime())["symbol"].unique().tolist() == [
        "MSFT"
    ]


def test_keys_changed_since_are_the_keys_learned_or_retired_after_a_moment(store: BarStore) -> None:
    days = week(5)
    t1, t2 = (pd.Timestamp(f"2024-03-0{d}T08:00:00", tz="UTC") for d in (1, 2))
    first = bars(["AAPL", "MSFT"], days, ingested_at=t1)
    corrected = first.iloc[[1, 6]].assign(close=first["close"].iloc[[1, 6]] + 0.5, ingested_at=t2)
    store.write_validated(days[0], days[-1], first, empty_rejected())
    store.write_validated(days[0], days[-1], corrected, empty_rejected())
    store.write_validated(days[0], days[-1], corrected, empty_rejected())  # a re-run changes no key
    before_retiring = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=5)
    store.write_validated(days[0], days[-1], first.iloc[0:0], empty_rejected(), retired=first.iloc[[9]])

    def keys(since: pd.Timestamp) -> list[tuple[str, dt.date, bool]]:
        changed = store.keys_changed_since(since.to_pydatetime())
        assert list(changed.columns) == ["symbol", "ts", "changed_at", "retired"]
        assert str(changed["ts"].dtype) == str(changed["changed_at"].dtype) == "datetime64[us, UTC]"
        return [(r.symbol, r.ts.date(), bool(r.retired)) for r in changed.itertuples(index=False)]

    everything = keys(t1 - pd.Timedelta(seconds=1))
    assert len(everything) == 10  # ten keys: nine stored, one retired
    assert everything == sorted(everything)
    assert [k for k in everything if k[2]] == [("MSFT", days[4], True)]
    assert keys(t1) == [("AAPL", days[1], False), ("MSFT", days[1], False), ("MSFT", days[4], True)]
    assert keys(t2) == [("MSFT", days[4], True)]
    assert keys(before_retiring) == [("MSFT", days[4], True)]
    assert keys(pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1)) == []
    newest = store.keys_changed_since(t1.to_pydatetime())
    assert newest.loc[~newest["retired"], "changed_at"].tolist() == [t2, t2]


def test_refreshing_one_week_leaves_the_other_weeks_as_materialized(store: BarStore) -> None:
    """What ``weekly_bars`` relies on to refresh only the weeks a correction touched: on a continuous aggregate,
    a week not refreshed keeps its materialized values; a plain view is always current."""
    days = [MON + dt.timedelta(days=i) for i in range(19) if (MON + dt.timedelta(days=i)).weekday() < 5]  # 3 weeks
    original = bars(["AAPL"], days)
    store.write_validated(days[0], days[-1], original, empty_rejected())
    store.refresh_weekly(days[0], days[-1])
    corrected = bars(["AAPL"], [days[1], days[12]], T1 + pd.Timedelta(hours=1), 900)  # weeks one and three
    store.write_validated(days[0], days[-1], corrected, empty_rejected())
    store.refresh_weekly(MON, MON + dt.timedelta(days=6))  # the first week only

    high = store.read_weekly(days[0], days[-1]).set_index("week")["high"]
    assert high[pd.Timestamp(MON, tz="UTC")] == corrected["high"].iloc[0]
    third = high[pd.Timestamp(MON + dt.timedelta(days=14), tz="UTC")]
    in_third = original[original["ts"] >= pd.Timestamp(MON + dt.timedelta(days=14), tz="UTC")]
    current = corrected["high"].iloc[1]
    assert current > in_third["high"].max()
    assert third == (current if store.describe()["weekly_bars"] == "view" else in_third["high"].max())
