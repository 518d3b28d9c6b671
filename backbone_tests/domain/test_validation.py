"""validate_bars: one test per rule with its exact reason, plus the invariants a caller relies on.

Every result is also checked against the pandera contract at full depth (the runtime guard checks structure
only), so these tests are what shows the row masks and ``ACCEPTED_SCHEMA`` agree.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pandas as pd
import pytest
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaError

from backbone_domain.bars import BAR_COLUMNS, BAR_DTYPES, RAW_COLUMNS, REJECTED_COLUMNS, empty_raw, utc_midnight
from backbone_domain.validation import ACCEPTED_SCHEMA, REJECTED_SCHEMA, ValidationResult, validate_bars
from backbone_domain.validation_rules import parse_numbers

DAY = dt.date(2024, 1, 2)
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
STAMP = dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.UTC)


def bar(**changes: object) -> dict:
    row = {
        "symbol": "AAPL",
        "ts": utc_midnight(DAY),
        "open": 10.0,
        "high": 11.0,
        "low": 9.0,
        "close": 10.5,
        "adj_close": 10.4,
        "volume": 1000,
        "source": "test",
        "partition_date": DAY,
        "payload": None,
    }
    return row | changes


def raw_frame(*rows: dict) -> pd.DataFrame:
    """A frame as a source hands it over: values as given (pandas infers the column types), ts UTC."""
    frame = pd.DataFrame(list(rows), columns=list(RAW_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("us")
    return frame


def check(raw: pd.DataFrame, **kwargs: object) -> ValidationResult:
    """validate_bars, plus the invariants every result must keep, checked at pandera's full depth."""
    result = validate_bars(raw, now=kwargs.pop("now", NOW), ingested_at=STAMP, **kwargs)
    assert result.total == len(raw) == len(result.accepted) + len(result.rejected)
    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        ACCEPTED_SCHEMA.validate(result.accepted)
        REJECTED_SCHEMA.validate(result.rejected)
    assert result.accepted.dtypes.astype(str).to_dict() == BAR_DTYPES
    assert list(result.rejected.columns) == list(REJECTED_COLUMNS)
    assert isinstance(result.accepted.index, pd.RangeIndex)
    assert isinstance(result.rejected.index, pd.RangeIndex)
    return result


def reasons_of(*rows: dict, **kwargs: object) -> list[list[str]]:
    return check(raw_frame(*rows), **kwargs).rejected["reasons"].tolist()


def test_clean_bar_is_accepted_as_stored() -> None:
    result = check(raw_frame(bar()))

    assert result.rejected.empty
    row = result.accepted.iloc[0]
    assert list(result.accepted.columns) == list(BAR_COLUMNS)
    assert (row["symbol"], row["ts"], row["source"]) == ("AAPL", utc_midnight(DAY), "test")
    assert (row["open"], row["high"], row["low"], row["close"]) == (10.0, 11.0, 9.0, 10.5)
    assert (row["adj_close"], row["volume"]) == (10.4, 1000.0)
    assert row["ingested_at"] == pd.Timestamp(STAMP)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"open": "abc"}, "open is not a number: 'abc'"),
        ({"volume": "1,234.5"}, "volume is not a number: '1,234.5'"),
        ({"open": True}, "open is not a number: True"),
        ({"close": ""}, "close is missing"),
        ({"close": "  "}, "close is missing"),
        ({"close": None}, "close is missing"),
        ({"close": float("nan")}, "close is missing"),
        ({"high": float("inf")}, "high is not finite: inf"),
        ({"high": "inf"}, "high is not finite: 'inf'"),
        ({"open": "nan"}, "open is not finite: 'nan'"),
        ({"low": -1.0}, "low must be positive: -1.0"),
        ({"low": 0.0}, "low must be positive: 0.0"),
        ({"low": "-1"}, "low must be positive: '-1'"),
        ({"volume": -5}, "volume is negative: -5"),
        ({"adj_close": "abc"}, "adj_close is not a number: 'abc'"),
        ({"adj_close": -2.0}, "adj_close must be positive: -2.0"),
        ({"adj_close": float("-inf")}, "adj_close is not finite: -inf"),
        ({"open": 10.0, "close": 10.0, "high": 9.5}, "high 9.5 is below max(open, close) 10.0"),
        ({"open": 10.0, "close": 10.0, "low": 10.5}, "low 10.5 is above min(open, close) 10.0"),
        ({"symbol": "ab c"}, "symbol 'ab c' is not a known symbol format"),
        ({"symbol": "aapl"}, "symbol 'aapl' is not a known symbol format"),
        ({"symbol": "AAPL\n"}, "symbol 'AAPL\\n' is not a known symbol format"),
        ({"symbol": 123}, "symbol 123 is not a known symbol format"),
        ({"symbol": None}, "symbol is missing"),
        ({"ts": pd.NaT}, "date could not be read"),
        ({"ts": pd.Timestamp("2024-01-02 15:30", tz="UTC")}, "ts 2024-01-02T15:30:00+00:00 is not midnight UTC"),
        ({"ts": pd.Timestamp("2031-01-01", tz="UTC")}, "ts 2031-01-01 is in the future"),
    ],
)
def test_each_rule_gives_its_reason(changes: dict, reason: str) -> None:
    assert reasons_of(bar(**changes)) == [[reason]]


def test_a_row_collects_one_reason_per_broken_rule_in_column_order() -> None:
    row = bar(symbol="ab c", ts=pd.NaT, open="abc", high="inf", low=-1.0, close="", adj_close="x", volume=-5)

    assert reasons_of(row) == [
        [
            "symbol 'ab c' is not a known symbol format",
            "date could not be read",
            "open is not a number: 'abc'",
            "high is not finite: 'inf'",
            "low must be positive: -1.0",
            "close is missing",
            "adj_close is not a number: 'x'",
            "volume is negative: -5",
        ]
    ]


def test_high_and_low_inconsistency_are_both_reported() -> None:
    row = bar(open=10.0, close=10.0, high=9.5, low=10.5)

    assert reasons_of(row) == [["high 9.5 is below max(open, close) 10.0", "low 10.5 is above min(open, close) 10.0"]]


def test_future_is_judged_on_the_utc_date_of_an_injected_now() -> None:
    today, tomorrow = bar(ts=utc_midnight(DAY)), bar(symbol="MSFT", ts=utc_midnight(DAY + dt.timedelta(1)))
    # 01:00 in UTC+5 on Jan 2 is still Jan 1 in UTC: then even "today" (Jan 2) is in the future.
    east = dt.datetime(2024, 1, 2, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))

    at_noon = check(raw_frame(today, tomorrow), now=dt.datetime(2024, 1, 2, 12, tzinfo=dt.UTC))
    early = check(raw_frame(today), now=east)

    assert at_noon.accepted["symbol"].tolist() == ["AAPL"]
    assert at_noon.rejected["reasons"].tolist() == [["ts 2024-01-03 is in the future"]]
    assert early.rejected["reasons"].tolist() == [["ts 2024-01-02 is in the future"]]


def test_a_bar_before_the_first_partition_is_quarantined_naming_the_setting() -> None:
    early, first = bar(ts=utc_midnight(DAY - dt.timedelta(1))), bar(symbol="MSFT", ts=utc_midnight(DAY))

    result = validate_bars(raw_frame(early, first), now=dt.datetime(2024, 6, 1, tzinfo=dt.UTC), first_day=DAY)

    assert result.accepted["symbol"].tolist() == ["MSFT"]
    assert result.rejected["reasons"].tolist() == [
        [f"ts {DAY - dt.timedelta(1)} is before the first partition, BACKBONE_START_DATE {DAY}"]
    ]


def test_missing_adj_close_is_accepted_as_nan() -> None:
    rows = [bar(symbol=s, adj_close=v) for s, v in (("A", None), ("B", ""), ("C", float("nan")), ("D", " "))]

    result = check(raw_frame(*rows))

    assert result.rejected.empty
    assert result.accepted["adj_close"].isna().all()


def test_numbers_written_as_text_are_accepted() -> None:
    row = bar(open="1e3", high=" 1001.5 ", low="999", close="+1000", adj_close="1E3", volume="7")

    accepted = check(raw_frame(row)).accepted

    values = accepted.loc[0, ["open", "high", "low", "close", "adj_close", "volume"]].tolist()
    assert values == [1000.0, 1001.5, 999.0, 1000.0, 1000.0, 7.0]


def test_identical_duplicates_keep_the_first_copy() -> None:
    rows = [bar(source="first"), bar(source="second", open="10"), bar(source="third"), bar(symbol="MSFT")]

    result = check(raw_frame(*rows))

    assert result.accepted[["symbol", "source"]].values.tolist() == [["AAPL", "first"], ["MSFT", "test"]]
    assert result.rejected["source"].tolist() == ["second", "third"]
    assert result.rejected["reasons"].tolist() == [["duplicate of an identical row (AAPL, 2024-01-02)"]] * 2


def test_conflicting_duplicates_are_all_rejected() -> None:
    rows = [bar(), bar(), bar(volume=1001), bar(symbol="MSFT")]

    result = check(raw_frame(*rows))

    assert result.accepted["symbol"].tolist() == ["MSFT"]
    assert result.rejected["reasons"].tolist() == [["duplicate key (AAPL, 2024-01-02): 3 rows disagree"]] * 3


def test_only_rows_that_pass_the_other_rules_count_as_duplicates() -> None:
    result = check(raw_frame(bar(), bar(open="abc")))

    assert len(result.accepted) == 1
    assert result.rejected["reasons"].tolist() == [["open is not a number: 'abc'"]]


def test_rejected_row_keeps_the_sources_payload_unchanged() -> None:
    payload = '{"file": "prices.csv", "line": 7, "open": "abc"}'

    rejected = check(raw_frame(bar(open="abc", payload=payload))).rejected

    assert rejected.loc[0, "payload"] == payload


def test_rejected_row_without_payload_keeps_its_raw_values_as_json() -> None:
    row = bar(symbol="ab c", ts=pd.NaT, open="abc", high=float("inf"), close=float("nan"), volume=-5)

    rejected = check(raw_frame(row, bar(symbol="MSFT"))).rejected

    payload = rejected.loc[0, "payload"]
    assert " " not in payload.replace("ab c", "")  # compact
    assert json.loads(payload) == {
        "symbol": "ab c",
        "ts": None,
        "open": "abc",
        "high": "inf",
        "low": 9.0,
        "close": None,
        "adj_close": 10.4,
        "volume": -5,
        "partition_date": "2024-01-02",
        "source": "test",
    }


def test_rejected_row_records_where_it_belongs() -> None:
    off_midnight = pd.Timestamp("2024-01-02 15:30", tz="UTC")
    raw = raw_frame(bar(ts=off_midnight), bar(ts=pd.NaT, source="csv"))
    raw["symbol"] = pd.Series([123, None], dtype=object)

    rejected = check(raw).rejected

    assert rejected["symbol"].tolist() == ["123", None]
    assert rejected.loc[0, "ts"] == off_midnight
    assert pd.isna(rejected.loc[1, "ts"])
    assert rejected["partition_date"].tolist() == [DAY, DAY]
    assert rejected["source"].tolist() == ["test", "csv"]
    assert json.loads(rejected.loc[0, "payload"])["ts"] == "2024-01-02T15:30:00+00:00"
    assert (rejected["rejected_at"] == pd.Timestamp(STAMP)).all()
    assert str(rejected["rejected_at"].dtype) == "datetime64[us, UTC]"


def test_counts_add_up_over_a_mixed_batch() -> None:
    rows = [bar(symbol=f"S{i}") for i in range(10)]
    rows += [bar(symbol="X1", open="abc"), bar(symbol="X2", ts=pd.NaT), bar(), bar(), bar(symbol="x3")]

    result = check(raw_frame(*rows))

    assert (len(result.accepted), len(result.rejected)) == (11, 4)


def test_random_garbage_never_loses_a_row_and_never_accepts_a_bad_one() -> None:
    rng = random.Random(20240102)
    garbage = {
        "symbol": ["aapl", "ab c", "", None, 7, float("nan")],
        "ts": [pd.NaT, utc_midnight(dt.date(2031, 1, 1)), pd.Timestamp("2024-01-02 09:30", tz="UTC")],
        "open": ["", None, float("nan"), "nan", "abc", "inf", -1.0, 0, True, "1,000", 10**6],
        "volume": ["", None, -5, float("inf"), "x", "1,000"],
    }
    garbage["high"] = garbage["low"] = garbage["close"] = garbage["open"]
    garbage["adj_close"] = ["abc", "inf", -1.0, 0, True]
    totals = {"accepted": 0, "rejected": 0}
    for _ in range(25):
        rows = []
        for _ in range(rng.randint(0, 80)):
            # Few symbols and days, so duplicates (identical and not) turn up too.
            day = dt.date(2024, 1, rng.randint(1, 20))
            row = bar(symbol=rng.choice(["AAPL", "BRK.B", "^GSPC"]), ts=utc_midnight(day), partition_date=day)
            row |= {"open": rng.choice([10.0, "10", "1e1"]), "volume": rng.choice([0, 1000.0, "12"])}
            for column in rng.sample(sorted(garbage), k=rng.choice([0, 0, 1, 2, 3])):
                row[column] = rng.choice(garbage[column])
            row["payload"] = rng.choice([None, '{"line": 1}'])
            rows.append(row)
        raw = raw_frame(*rows) if rows else empty_raw()

        result = check(raw)  # also: accepted rows satisfy the full pandera contract

        assert all(result.rejected["reasons"].map(len) > 0)
        assert not result.accepted.duplicated(["symbol", "ts"]).any()
        kept = [*map(str, result.accepted["symbol"]), *map(str, result.rejected["symbol"])]
        assert sorted(kept) == sorted(str(_given(s)) for s in raw["symbol"])
        totals["accepted"] += len(result.accepted)
        totals["rejected"] += len(result.rejected)
    assert min(totals.values()) > 100  # both halves were exercised


def _given(symbol: object) -> object:
    """The raw symbol as the rejected frame records it (NaN and None both become None)."""
    return None if symbol is None or (isinstance(symbol, float) and np.isnan(symbol)) else symbol


def test_empty_input_gives_two_empty_frames_with_the_contract_columns() -> None:
    result = check(empty_raw())

    assert result.total == 0
    assert list(result.accepted.columns) == list(BAR_COLUMNS)
    assert result.rejected.empty
    assert str(result.rejected["ts"].dtype) == "datetime64[us, UTC]"


def test_output_dtypes_hold_for_text_columns_as_pandas_3_infers_them() -> None:
    raw = raw_frame(bar(), bar(symbol="MSFT", open="abc"))
    raw = raw.astype({"symbol": "str", "source": "str", "open": "str"})

    result = check(raw)

    assert result.accepted.dtypes.astype(str).to_dict() == BAR_DTYPES
    assert result.rejected["reasons"].tolist() == [["open is not a number: 'abc'"]]


def test_contract_schema_refuses_a_bad_bar() -> None:
    accepted = check(raw_frame(bar())).accepted
    broken = accepted.assign(low=-1.0)

    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA), pytest.raises(SchemaError):
        ACCEPTED_SCHEMA.validate(broken)


def test_a_frame_without_the_raw_columns_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="payload"):
        validate_bars(raw_frame(bar()).drop(columns=["payload"]), now=NOW)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_bars(raw_frame(bar()), now=dt.datetime(2024, 1, 2))


def test_ts_in_another_unit_or_zone_is_read_as_utc() -> None:
    raw = raw_frame(bar(), bar(symbol="MSFT"))
    raw["ts"] = pd.Series(
        [pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-02", tz="Europe/Paris")], dtype=object
    )
    nanos = raw_frame(bar()).astype({"ts": "datetime64[ns, UTC]"})

    result = check(raw)

    assert result.accepted["symbol"].tolist() == ["AAPL"]
    assert result.rejected["reasons"].tolist() == [["ts 2024-01-01T23:00:00+00:00 is not midnight UTC"]]
    assert check(nanos).accepted["ts"].tolist() == [utc_midnight(DAY)]


def test_row_positions_not_index_labels_decide() -> None:
    raw = raw_frame(bar(), bar(symbol="MSFT", open="abc"), bar(symbol="IBM"))
    raw.index = [30, 10, 20]

    result = check(raw)

    assert result.accepted["symbol"].tolist() == ["AAPL", "IBM"]
    assert result.rejected["symbol"].tolist() == ["MSFT"]


def test_plain_decimal_text_parses_alike_in_bulk_and_through_to_numeric():
    plain = ["1", "-2.5", "1e3", "3E-4", ".5", "5.", "007", "-0", "0.1", "1.7976931348623157e308", None, "nan"]
    bulk = parse_numbers(pd.Series(plain, dtype=object))  # every value plain: Arrow parses them
    general = parse_numbers(pd.Series([*plain, " 1"], dtype=object))  # one odd spelling: pd.to_numeric
    np.testing.assert_array_equal(bulk.values, general.values[:-1])
    np.testing.assert_array_equal(bulk.missing, general.missing[:-1])
    np.testing.assert_array_equal(bulk.unreadable, general.unreadable[:-1])
    assert general.values[-1] == 1.0


def test_a_leading_plus_reads_as_python_reads_it():
    """pd.to_numeric reads "+180144.98017032706" one ulp low; found by test_validation_properties."""
    parsed = parse_numbers(pd.Series(["+180144.98017032706", " +2.5", "abc", 7], dtype=object))
    assert parsed.values[:2].tolist() == [180144.98017032706, 2.5]
