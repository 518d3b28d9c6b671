"""The BarStore contract, run over every backend: DuckDB (bootstrap), PostgreSQL and TimescaleDB (institutional).

Each test gets an empty store: a new DuckDB file, or a new schema in the session's PostgreSQL database / on the
TimescaleDB server. Backend specifics live in test_<backend>_store.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from backbone_domain import frames
from backbone_domain.bars import (
    BAR_COLUMNS,
    BAR_DTYPES,
    RAW_COLUMNS,
    REJECTED_COLUMNS,
    REJECTED_DTYPES,
    WEEKLY_COLUMNS,
    empty_bars,
    empty_rejected,
    utc_midnight,
)
from backbone_resources.store.base import BAR_ARROW_SCHEMA, BarStore, QualityCounts, WriteCounts
from backbone_resources.store.postgres_store import PostgresBarStore

MON = dt.date(2024, 1, 1)  # a Monday
T1 = pd.Timestamp("2024-02-01 10:00:00.123456", tz="UTC")
MakeStore = Callable[[], BarStore]


def _duckdb_factory(tmp_path: Path) -> MakeStore:
    try:
        from backbone_resources.store.duckdb_store import DuckDBBarStore
    except ImportError as exc:
        pytest.skip(f"backbone_resources.store.duckdb_store is not there yet: {exc}")
    path = str(tmp_path / "store.duckdb")
    return lambda: DuckDBBarStore(path=path)


@pytest.fixture(
    params=[
        pytest.param("duckdb"),
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("timescale", marks=pytest.mark.timescale),
    ]
)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """Builds store instances over one empty store (same file / schema), closed at the end of the test."""
    if request.param == "duckdb":
        build = _duckdb_factory(tmp_path)
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        if request.param == "postgres":
            url, options = request.getfixturevalue("pg_url"), {}
        else:
            url = request.getfixturevalue("timescale_url")
            options = request.getfixturevalue("timescale_store_options")
        build = lambda: PostgresBarStore(url=url, schema_name=schema, **options)  # noqa: E731
    made: list[BarStore] = []

    def make() -> BarStore:
        made.append(build())
        return made[-1]

    yield make
    for store in made:
        close = getattr(store, "close", None)
        if close is not None:
            close()


@pytest.fixture
def store(make_store: MakeStore) -> BarStore:
    return make_store()


def bars(
    symbols: Sequence[str], days: Sequence[dt.date], ingested_at: pd.Timestamp = T1, base: float = 100.0
) -> pd.DataFrame:
    """Valid bars, one per symbol and day, with prices that differ per row."""
    keys = pd.MultiIndex.from_product([symbols, [utc_midnight(d) for d in days]], names=["symbol", "ts"])
    frame = keys.to_frame(index=False)
    close = base + np.arange(len(frame)) * 1.25
    frame = frame.assign(
        open=close - 0.5, high=close + 1, low=close - 1, close=close, adj_close=close * 0.99, volume=1000.0
    )
    frame = frame.assign(source="synthetic", ingested_at=ingested_at)
    return frame.loc[:, list(BAR_COLUMNS)].astype(BAR_DTYPES)


def rejected(days: Sequence[dt.date], per_day: int, tag: str = "a") -> pd.DataFrame:
    rows = [
        {
            "symbol": f"R{i}",
            "ts": utc_midnight(day),
            "partition_date": day,
            "source": "synthetic",
            "payload": f'{{"tag": "{tag}", "line": {i}}}',
            "reasons": ["high < low", "volume < 0"],
            "rejected_at": T1,
        }
        for day in days
        for i in range(per_day)
    ]
    if not rows:
        return empty_rejected()
    frame = pd.DataFrame(rows)
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    frame["rejected_at"] = frame["rejected_at"].astype("datetime64[us, UTC]")
    return frame


def week(days: int) -> list[dt.date]:
    return [MON + dt.timedelta(days=i) for i in range(days)]


def sort_bars(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["symbol", "ts"]).reset_index(drop=True)


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


def test_duplicate_keys_in_one_frame_keep_the_newest(store: BarStore) -> None:
    old = bars(["AAPL"], [MON], T1, 100)
    new = bars(["AAPL"], [MON], T1 + pd.Timedelta(minutes=5), 200)

    store.write_validated(MON, MON, pd.concat([new, old], ignore_index=True), empty_rejected())

    pd.testing.assert_frame_equal(store.read_bars(MON, MON), new)


def test_rejected_rows_are_replaced_per_partition(store: BarStore) -> None:
    days = week(2)
    assert store.write_validated(MON, days[-1], empty_bars(), rejected(days, 3)).rejected == 6
    store.write_validated(MON, days[-1], empty_bars(), rejected(days, 3, "again"))
    assert store.range_counts(MON, days[-1]) == WriteCounts(bars=0, rejected=6)

    store.write_validated(MON, MON, empty_bars(), rejected([MON], 1, "only monday"))

    assert store.range_counts(MON, MON).rejected == 1
    assert store.range_counts(days[1], days[1]).rejected == 3  # the other partition is untouched
    store.write_validated(MON, MON, empty_bars(), empty_rejected())
    assert store.range_counts(MON, MON).rejected == 0


def test_read_rejected_round_trips_reasons_and_payload(store: BarStore) -> None:
    refused = rejected([MON], 4)
    refused["symbol"] = ["R0", None, "R2", "R3"]
    refused["ts"] = [utc_midnight(MON), pd.NaT, utc_midnight(MON), utc_midnight(MON)]
    refused["ts"] = refused["ts"].astype("datetime64[us, UTC]")
    refused["payload"] = ['{"file": "a.csv",  "line": 2, "raw": ["1,5", "\\\\N"]}', {"open": "x"}, "not JSON", None]
    refused["reasons"] = [["open is not a number: '1,5'", 'quote " {brace} \\ ünï'], [], ["one"], ("a", "b")]
    refused["rejected_at"] = [T1, pd.NaT, T1, T1]
    refused["rejected_at"] = refused["rejected_at"].astype("datetime64[us, UTC]")
    before = pd.Timestamp.now(tz="UTC").floor("s")
    store.write_validated(MON, MON, empty_bars(), refused)

    back = store.read_rejected(MON, MON)

    assert list(back.columns) == list(REJECTED_COLUMNS)
    assert back.dtypes.astype(str).to_dict() == REJECTED_DTYPES
    assert back["symbol"].tolist() == ["R0", None, "R2", "R3"]
    assert back["ts"].isna().tolist() == [False, True, False, False]
    assert back["partition_date"].tolist() == [MON] * 4
    assert all(isinstance(d, dt.date) for d in back["partition_date"])
    assert back["source"].tolist() == ["synthetic"] * 4
    assert back["reasons"].tolist() == [
        ["open is not a number: '1,5'", 'quote " {brace} \\ ünï'],
        [],
        ["one"],
        ["a", "b"],
    ]
    assert all(isinstance(r, list) for r in back["reasons"])
    payloads = [None if p is None else json.loads(p) for p in back["payload"]]  # the backend's JSON text
    assert payloads == [{"file": "a.csv", "line": 2, "raw": ["1,5", "\\N"]}, {"open": "x"}, "not JSON", None]
    assert back.loc[[0, 2, 3], "rejected_at"].tolist() == [T1] * 3
    assert before <= back.loc[1, "rejected_at"] <= pd.Timestamp.now(tz="UTC")  # stamped by the write


def test_read_rejected_orders_by_partition_then_insertion(store: BarStore) -> None:
    days = week(3)
    frame = rejected([days[1], days[0]], 3)  # Tuesday's rows first
    frame["symbol"] = ["T2", "T0", "T1", "M1", "M2", "M0"]
    store.write_validated(MON, days[1], empty_bars(), frame)
    store.write_validated(days[2], days[2], empty_bars(), rejected([days[2]], 2))
    again = rejected([MON], 2, "again").assign(symbol=["N1", "N0"])
    store.write_validated(MON, MON, empty_bars(), again)  # Monday's rows, now inserted after the others

    back = store.read_rejected(MON, days[2])

    assert back["symbol"].tolist() == ["N1", "N0", "T2", "T0", "T1", "R0", "R1"]
    assert back["partition_date"].tolist() == [MON] * 2 + [days[1]] * 3 + [days[2]] * 2
    assert back.index.tolist() == list(range(7))


def test_read_rejected_selects_partitions(store: BarStore) -> None:
    days = week(5)
    store.write_validated(MON, days[-1], empty_bars(), rejected(days, 2))

    some = store.read_rejected(days[1], days[2])  # end is inclusive

    assert some["partition_date"].tolist() == [days[1]] * 2 + [days[2]] * 2
    assert len(store.read_rejected(MON, days[-1])) == 10
    empty = store.read_rejected(days[-1] + dt.timedelta(days=1), days[-1] + dt.timedelta(days=9))
    assert empty.empty
    assert list(empty.columns) == list(REJECTED_COLUMNS)
    assert empty.dtypes.astype(str).to_dict() == REJECTED_DTYPES
    assert store.read_rejected(days[3], days[1]).empty  # start after end


def raw_frame(day: dt.date) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "MSFT", None],
            "ts": [utc_midnight(day), utc_midnight(day), pd.NaT, utc_midnight(day)],
            "open": ["1.50", "", "NaN", None],
            "high": [" 2 ", "x", "1e3", "Ünïcode €"],
            "low": ["1", "1", "1", "1"],
            "close": ["1,5", '"quoted"', "line\nbreak", "\\N"],
            "adj_close": [None, None, None, None],
            "volume": ["100", "-5", "0", "1e9"],
            "source": "csv:/data",
            "partition_date": day,
            "payload": ['{"file": "a.csv",  "line": 2}', None, '{"b": [1, 2], "a": null}', "{}"],
        }
    )
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    return frame.loc[:, list(RAW_COLUMNS)]


def _texts(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts, NULLs as None, ordered by what the rows hold (landing order is not part of the contract)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return sorted(records, key=repr)


def test_raw_round_trip_keeps_text_and_payload_exactly(store: BarStore) -> None:
    raw = raw_frame(MON)
    assert store.replace_raw(MON, MON, raw) == 4
    assert store.replace_raw(MON, MON, raw) == 4  # replaced, not appended
    store.replace_raw(week(2)[1], week(2)[1], raw_frame(week(2)[1]))

    back = store.read_raw(MON, MON)

    assert list(back.columns) == list(RAW_COLUMNS)
    assert str(back["ts"].dtype) == "datetime64[us, UTC]"
    assert _texts(back) == _texts(raw)
    assert all(isinstance(d, dt.date) for d in back["partition_date"])
    assert len(store.read_raw(MON, week(2)[1])) == 8


def test_raw_numbers_land_as_their_repr(store: BarStore) -> None:
    raw = raw_frame(MON).iloc[:1].copy()
    for column, value in {"open": 101.5, "high": 0.1 + 0.2, "low": 100.0, "volume": 12345}.items():
        raw[column] = pd.Series([value], dtype=object)
    store.replace_raw(MON, MON, raw)

    back = store.read_raw(MON, MON).iloc[0]

    assert (back["open"], back["high"], back["low"], back["volume"]) == (
        "101.5",
        "0.30000000000000004",
        "100.0",
        "12345",
    )


def _numeric_raw(day: dt.date) -> pd.DataFrame:
    """Values as a source that delivers numbers gives them: float64 (NaN for "no value") and nullable Int64."""
    raw = raw_frame(day).iloc[:3].copy()
    for column in ("open", "high", "low", "close", "adj_close"):
        raw[column] = pd.Series([101.5, 0.1 + 0.2, np.nan], dtype="float64")
    raw["low"] = pd.Series([100.0, -0.0, 1e-5], dtype="float64")
    raw["volume"] = pd.Series([12345, None, 10**17], dtype="Int64")
    return raw


def test_raw_numbers_read_back_as_numbers_or_as_their_repr(store: BarStore) -> None:
    """A store may keep numeric columns as numbers (PostgreSQL does); as text they read exactly as their repr."""
    store.replace_raw(MON, MON, _numeric_raw(MON))

    back = store.read_raw(MON, MON)

    as_text = frames.raw_values_as_text(pa.Table.from_pandas(back, preserve_index=False))
    assert as_text["open"].to_pylist() == ["101.5", "0.30000000000000004", None]
    assert as_text["low"].to_pylist() == ["100.0", "-0.0", "1e-05"]
    assert as_text["volume"].to_pylist() == ["12345", None, "100000000000000000"]
    kept = str(back["open"].dtype) == "float64"
    assert kept == isinstance(store, PostgresBarStore)
    if kept:  # numbers exactly as delivered, NaN as "no value"
        assert back["high"].tolist()[:2] == [101.5, 0.1 + 0.2]
        assert np.isnan(back["high"].iloc[2])
        assert back["volume"].tolist() == [12345, pd.NA, 10**17]


def test_raw_days_landed_as_text_and_as_numbers_read_back_together_as_text(store: BarStore) -> None:
    days = week(2)
    store.replace_raw(days[0], days[0], raw_frame(days[0]))  # text as the source gave it
    store.replace_raw(days[1], days[1], _numeric_raw(days[1]))

    back = store.read_raw(days[0], days[1])

    assert back["open"].tolist() == ["1.50", "", "NaN", None, "101.5", "0.30000000000000004", None]
    assert back["volume"].tolist() == ["100", "-5", "0", "1e9", "12345", None, "100000000000000000"]


def test_raw_rows_outside_the_partitions_are_refused(store: BarStore) -> None:
    with pytest.raises(ValueError, match="partition_date"):
        store.replace_raw(MON, MON, raw_frame(week(2)[1]))


def test_replacing_a_raw_span_replaces_exactly_its_days(store: BarStore) -> None:
    days = week(5)
    store.replace_raw(days[0], days[-1], pd.concat([raw_frame(d) for d in days], ignore_index=True))
    again = pd.concat([raw_frame(d) for d in days[1:3]], ignore_index=True).assign(source="again")

    assert store.replace_raw(days[1], days[3], again) == 8  # days[3] gets no rows: it is emptied

    back = store.read_raw(days[0], days[-1])
    per_day = back.groupby("partition_date")["source"].agg(lambda s: sorted(set(s))).to_dict()
    assert per_day == {days[0]: ["csv:/data"], days[1]: ["again"], days[2]: ["again"], days[4]: ["csv:/data"]}
    assert _texts(store.read_raw(days[1], days[2])) == _texts(again)
    assert store.read_raw(days[3], days[3]).empty


def test_read_raw_orders_by_day_symbol_ts_then_landing(store: BarStore) -> None:
    late, early = week(2)[1], MON
    raw = pd.concat([raw_frame(late), raw_frame(early)], ignore_index=True)
    raw["payload"] = [f'{{"line": {i}}}' for i in range(len(raw))]
    store.replace_raw(early, late, raw)

    back = store.read_raw(early, late)

    # Per day: AAPL's two rows (same ts) in landing order, MSFT (NULL ts), then the NULL symbol last.
    assert back["payload"].tolist() == [f'{{"line": {i}}}' for i in (4, 5, 6, 7, 0, 1, 2, 3)]
    assert back["partition_date"].tolist() == [early] * 4 + [late] * 4


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


def test_quality_counts(store: BarStore) -> None:
    frame = bars(["AAPL", "MSFT"], week(3))
    frame.loc[0, "low"] = frame.loc[0, "open"] + 0.1  # low above the open
    frame.loc[1, "high"] = frame.loc[1, "close"] - 0.1  # high below the close
    frame.loc[2, ["open", "low"]] = [0.0, 0.0]  # a zero price
    store.write_validated(MON, week(3)[-1], frame, rejected([MON], 2))

    assert store.quality_counts() == QualityCounts(bars=6, duplicate_keys=0, ohlc_violations=3, rejected=2)


def test_range_counts(store: BarStore) -> None:
    days = week(5)
    store.write_validated(MON, days[-1], bars(["AAPL", "MSFT"], days), rejected(days[:2], 2))

    assert store.range_counts(MON, days[-1]) == WriteCounts(bars=10, rejected=4)
    assert store.range_counts(days[1], days[2]) == WriteCounts(bars=4, rejected=2)
    assert store.range_counts(days[-1] + dt.timedelta(days=1), days[-1] + dt.timedelta(days=9)) == WriteCounts(0, 0)


def test_a_failed_write_leaves_the_partition_as_it_was(store: BarStore) -> None:
    days = week(2)
    before = bars(["AAPL"], days)
    store.write_validated(MON, days[-1], before, rejected(days, 1))
    bad = rejected(days, 1)
    bad["source"] = None  # a rejected row without its source fails after the bars went in

    with pytest.raises(Exception):  # noqa: B017, PT011 - each backend raises its own driver's error
        store.write_validated(MON, days[-1], bars(["AAPL", "MSFT"], days, T1 + pd.Timedelta(hours=1), 700), bad)

    pd.testing.assert_frame_equal(store.read_bars(MON, days[-1]), sort_bars(before))
    assert store.range_counts(MON, days[-1]) == WriteCounts(bars=2, rejected=2)


def test_a_failed_first_write_leaves_nothing(store: BarStore) -> None:
    bad = rejected([MON], 1)
    bad["source"] = None

    with pytest.raises(Exception):  # noqa: B017, PT011
        store.write_validated(MON, MON, bars(["AAPL", "MSFT"], [MON]), bad)

    assert store.read_bars(MON, MON).empty
    assert store.range_counts(MON, MON) == WriteCounts(0, 0)
    assert store.latest_bar_dates() == {}
