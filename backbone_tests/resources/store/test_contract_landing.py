"""The BarStore contract for what is landed beside the bars, run over every backend (fixtures: conftest.py):
rejected rows replaced per partition with their reasons and payload, and raw rows as text, exactly."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from backbone_domain import frames
from backbone_domain.bars import (
    RAW_COLUMNS,
    REJECTED_COLUMNS,
    REJECTED_DTYPES,
    VALUE_COLUMNS,
    empty_bars,
    empty_raw,
    empty_rejected,
    utc_midnight,
)
from backbone_domain.quarantined_files import QUARANTINED_FILE_DTYPES, QuarantinedFile, quarantine_frame
from backbone_resources.store.base import BarStore, QualityCounts, WriteCounts
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import MON, T1, bars, numeric_raw_rows, raw_rows, rejected_rows, week


def test_rejected_rows_are_replaced_per_partition(store: BarStore) -> None:
    days = week(2)
    assert store.write_validated(MON, days[-1], empty_bars(), rejected_rows(days, 3)).rejected == 6
    store.write_validated(MON, days[-1], empty_bars(), rejected_rows(days, 3, "again"))
    assert store.range_counts(MON, days[-1]) == WriteCounts(bars=0, rejected=6)

    store.write_validated(MON, MON, empty_bars(), rejected_rows([MON], 1, "only monday"))

    assert store.range_counts(MON, MON).rejected == 1
    assert store.range_counts(days[1], days[1]).rejected == 3  # the other partition is untouched
    store.write_validated(MON, MON, empty_bars(), empty_rejected())
    assert store.range_counts(MON, MON).rejected == 0


def test_read_rejected_round_trips_reasons_and_payload(store: BarStore) -> None:
    refused = rejected_rows([MON], 4)
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
    frame = rejected_rows([days[1], days[0]], 3)  # Tuesday's rows first
    frame["symbol"] = ["T2", "T0", "T1", "M1", "M2", "M0"]
    store.write_validated(MON, days[1], empty_bars(), frame)
    store.write_validated(days[2], days[2], empty_bars(), rejected_rows([days[2]], 2))
    again = rejected_rows([MON], 2, "again").assign(symbol=["N1", "N0"])
    store.write_validated(MON, MON, empty_bars(), again)  # Monday's rows, now inserted after the others

    back = store.read_rejected(MON, days[2])

    assert back["symbol"].tolist() == ["N1", "N0", "T2", "T0", "T1", "R0", "R1"]
    assert back["partition_date"].tolist() == [MON] * 2 + [days[1]] * 3 + [days[2]] * 2
    assert back.index.tolist() == list(range(7))


def test_read_rejected_selects_partitions(store: BarStore) -> None:
    days = week(5)
    store.write_validated(MON, days[-1], empty_bars(), rejected_rows(days, 2))

    some = store.read_rejected(days[1], days[2])  # end is inclusive

    assert some["partition_date"].tolist() == [days[1]] * 2 + [days[2]] * 2
    assert len(store.read_rejected(MON, days[-1])) == 10
    empty = store.read_rejected(days[-1] + dt.timedelta(days=1), days[-1] + dt.timedelta(days=9))
    assert empty.empty
    assert list(empty.columns) == list(REJECTED_COLUMNS)
    assert empty.dtypes.astype(str).to_dict() == REJECTED_DTYPES
    assert store.read_rejected(days[3], days[1]).empty  # start after end


def _texts(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts, NULLs as None, ordered by what the rows hold (landing order is not part of the contract)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return sorted(records, key=repr)


def test_raw_round_trip_keeps_text_and_payload_exactly(store: BarStore) -> None:
    raw = raw_rows(MON)
    assert store.replace_raw(MON, MON, raw) == 4
    assert store.replace_raw(MON, MON, raw) == 4  # replaced, not appended
    store.replace_raw(week(2)[1], week(2)[1], raw_rows(week(2)[1]))

    back = store.read_raw(MON, MON)

    assert list(back.columns) == list(RAW_COLUMNS)
    assert str(back["ts"].dtype) == "datetime64[us, UTC]"
    assert _texts(back) == _texts(raw)
    assert all(isinstance(d, dt.date) for d in back["partition_date"])
    assert len(store.read_raw(MON, week(2)[1])) == 8


def test_raw_numbers_land_as_their_repr(store: BarStore) -> None:
    raw = raw_rows(MON).iloc[:1].copy()
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


def test_raw_numbers_read_back_as_numbers_or_as_their_repr(store: BarStore) -> None:
    """A store may keep numeric columns as numbers (PostgreSQL does); as text they read exactly as their repr."""
    store.replace_raw(MON, MON, numeric_raw_rows(MON))

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
    store.replace_raw(days[0], days[0], raw_rows(days[0]))  # text as the source gave it
    store.replace_raw(days[1], days[1], numeric_raw_rows(days[1]))

    back = store.read_raw(days[0], days[1])

    assert back["open"].tolist() == ["1.50", "", "NaN", None, "101.5", "0.30000000000000004", None]
    assert back["volume"].tolist() == ["100", "-5", "0", "1e9", "12345", None, "100000000000000000"]


@pytest.mark.parametrize("kind", ["text", "numbers", "days out of order"])
def test_land_returns_exactly_what_read_raw_then_returns(store: BarStore, kind: str) -> None:
    days = week(3)
    store.replace_raw(days[0], days[-1], raw_rows(days[1]).assign(source="before"))  # replaced by the landing
    if kind == "text":
        raw = pd.concat([raw_rows(d) for d in days], ignore_index=True)
    elif kind == "numbers":
        raw = pd.concat([numeric_raw_rows(d) for d in days], ignore_index=True)
    else:
        raw = pd.concat([raw_rows(d) for d in reversed(days)], ignore_index=True)

    landed = store.land(days[0], days[-1], raw)

    pd.testing.assert_frame_equal(landed, store.read_raw(days[0], days[-1]))
    assert len(landed) == len(raw)
    assert set(landed["source"]) == {"csv:/data"}


def test_raw_rows_outside_the_partitions_are_refused(store: BarStore) -> None:
    with pytest.raises(ValueError, match="partition_date"):
        store.replace_raw(MON, MON, raw_rows(week(2)[1]))


def test_replacing_a_raw_span_replaces_exactly_its_days(store: BarStore) -> None:
    days = week(5)
    store.replace_raw(days[0], days[-1], pd.concat([raw_rows(d) for d in days], ignore_index=True))
    again = pd.concat([raw_rows(d) for d in days[1:3]], ignore_index=True).assign(source="again")

    assert store.replace_raw(days[1], days[3], again) == 8  # days[3] gets no rows: it is emptied

    back = store.read_raw(days[0], days[-1])
    per_day = back.groupby("partition_date")["source"].agg(lambda s: sorted(set(s))).to_dict()
    assert per_day == {days[0]: ["csv:/data"], days[1]: ["again"], days[2]: ["again"], days[4]: ["csv:/data"]}
    assert _texts(store.read_raw(days[1], days[2])) == _texts(again)
    assert store.read_raw(days[3], days[3]).empty


def test_read_raw_orders_by_day_symbol_ts_then_landing(store: BarStore) -> None:
    late, early = week(2)[1], MON
    raw = pd.concat([raw_rows(late), raw_rows(early)], ignore_index=True)
    raw["payload"] = [f'{{"line": {i}}}' for i in range(len(raw))]
    store.replace_raw(early, late, raw)

    back = store.read_raw(early, late)

    # Per day: AAPL's two rows (same ts) in landing order, MSFT (NULL ts), then the NULL symbol last.
    assert back["payload"].tolist() == [f'{{"line": {i}}}' for i in (4, 5, 6, 7, 0, 1, 2, 3)]
    assert back["partition_date"].tolist() == [early] * 4 + [late] * 4


def landed_as_text(store: BarStore, day: dt.date) -> pd.DataFrame:
    """``read_raw`` of one day with the value columns as the text they landed as: a store may keep a column
    delivered as numbers as numbers (``read_raw``'s contract), and ``raw_values_as_text`` gives that text."""
    landed = store.read_raw(day, day)
    text = frames.raw_values_as_text(pa.Table.from_pandas(landed, preserve_index=False))
    for name in VALUE_COLUMNS:
        landed[name] = text[name].to_pylist()
    return landed


def test_raw_values_land_as_exact_text(store: BarStore) -> None:
    raw = empty_raw().reindex(range(3))
    raw["symbol"] = ["AAA", "BBB", "CCC"]
    raw["ts"] = pd.to_datetime(["2024-01-01", None, "2024-01-01"], utc=True).as_unit("us")
    raw["open"] = [0.1 + 0.2, "1.50", np.float64(1 / 3)]
    raw["high"] = [float("nan"), None, np.int64(7)]
    raw[["low", "close", "adj_close", "volume"]] = "x"
    raw["source"] = "csv"
    raw["partition_date"] = MON
    raw["payload"] = ["a.csv line 1, not JSON", '{"file": "a.csv", "line": 2}', None]
    assert store.replace_raw(MON, MON, raw) == 3
    assert store.replace_raw(MON, MON, raw.iloc[:2]) == 2  # replaces the partition, never appends

    landed = landed_as_text(store, MON)
    assert landed["open"].tolist() == ["0.30000000000000004", "1.50"]
    assert float(landed["open"][0]) == 0.1 + 0.2
    assert landed["high"].tolist() == [None, None]
    assert landed["ts"].dtype == "datetime64[us, UTC]"
    assert landed["ts"].isna().tolist() == [False, True]
    assert landed["payload"].tolist() == ["a.csv line 1, not JSON", '{"file": "a.csv", "line": 2}']
    assert landed["partition_date"].tolist() == [MON, MON]


EDGE_FLOATS = [0.1 + 0.2, 5.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 9.9e-5, 1e300, 5e-324, 123456789.123, 1 / 3]


def test_float_columns_land_as_their_repr(store: BarStore) -> None:
    raw = empty_raw().reindex(range(len(EDGE_FLOATS) + 1))
    raw["symbol"], raw["source"], raw["partition_date"] = "AAA", "synthetic", MON
    for column in ("open", "high", "low", "close", "adj_close", "volume"):
        raw[column] = np.array([*EDGE_FLOATS, np.nan])
    store.replace_raw(MON, MON, raw)

    landed = landed_as_text(store, MON)
    assert sorted(landed["open"].dropna(), key=float) == [repr(v) for v in sorted(EDGE_FLOATS)]
    assert landed["volume"].isna().sum() == 1


def test_rejected_rows_outside_the_partitions_are_refused(store: BarStore) -> None:
    with pytest.raises(ValueError, match="outside"):
        store.write_validated(MON, MON, bars(["AAA"], [MON]), rejected_rows([dt.date(2024, 1, 2)], 1))
    assert store.quality_counts() == QualityCounts(0, 0, 0, 0)


def test_quarantined_files_are_replaced_per_source_and_read_back_exactly(store: BarStore) -> None:
    seen = dt.datetime(2024, 1, 3, 12, 30, 1, 123456, tzinfo=dt.UTC)
    png = QuarantinedFile(
        "/data/ABC.csv", "ABC", 9, "ab" * 32, None, "not UTF-8 text (byte 0x89 at offset 0)", "\\x89PNG"
    )
    named = QuarantinedFile(
        "/data/BRK B.csv", None, 30, "cd" * 32, 2, "file name 'BRK B' is not a symbol", "Date,Close"
    )
    other = QuarantinedFile("/elsewhere/X.parquet", "X", 4, "ef" * 32, 0, "not readable as Parquet", "PAR1")
    assert store.read_quarantined_files().empty

    store.replace_quarantined_files("csv", quarantine_frame("csv", [named, png], seen))
    store.replace_quarantined_files("other", quarantine_frame("other", [other], seen))
    back = store.read_quarantined_files()

    assert back.dtypes.astype(str).to_dict() == {c: str(t) for c, t in QUARANTINED_FILE_DTYPES.items()}
    expected = quarantine_frame("csv", [png, named], seen)  # ordered by source, path
    pd.testing.assert_frame_equal(back.iloc[:2].reset_index(drop=True), expected, check_exact=True)
    assert back["source"].tolist() == ["csv", "csv", "other"]

    store.replace_quarantined_files("csv", quarantine_frame("csv", [], seen))  # every file fixed
    assert store.read_quarantined_files()["path"].tolist() == ["/elsewhere/X.parquet"]
