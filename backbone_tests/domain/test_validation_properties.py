"""validate_bars over arbitrary raw frames (Hypothesis): nothing lost, nothing invalid accepted, same answer twice.

Rows start as a valid bar and have any of their cells replaced by garbage (symbols, dates, numbers as text of
every shape, floats, bools, NUL bytes, payloads), over few symbols and days so duplicate keys turn up too. Each
raw row carries its position in ``source`` (``r<i>``, sometimes followed by garbage), so every output row is
traced back to the one raw row it came from. Accepted rows are re-checked here against the rules as written
in the README and ``bars.py``, in plain Python, not with the rule functions of ``validation_rules``.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from backbone_domain.bars import PRICE_COLUMNS, RAW_COLUMNS, VALUE_COLUMNS
from backbone_domain.validation import validate_bars

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
STAMP = dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.UTC)
SYMBOL = re.compile(r"[A-Z0-9^][A-Z0-9.=^-]{0,19}")  # bars.SYMBOL_PATTERN, restated: matched in full
ID = re.compile(r"r(\d+)")

TRICKY_TEXT = [
    *("", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1e3", " 12 ", "+3", "-0", "0", "1,234.5", "1_000"),
    *("12.5 USD", "0x10", "١٢", "１２", "12\x00", "\x00", "1e400", "-1e-400", "True", "None", ".", "e3", "1e"),
    *("\u2003 7", "7\n", "\t8\t", "5.", ".5", "007"),
]
SYMBOLS_GOOD = ["AAPL", "BRK.B", "^GSPC", "EURUSD=X"]
SYMBOLS_BAD = ["aapl", "ab c", "", " AAPL", "AAPL\n", "A\x00", "ÄPFEL", "TOOLONGTOOLONGTOOLONG1", "-X"]
DAYS = [dt.date(2024, 1, d) for d in (2, 3, 4)]


def _as_text(value: float, exact: bool) -> st.SearchStrategy[str]:
    """The number as a file may write it: exactly (any spelling of the same float) or rounded."""
    spellings = [repr(value), f" {value!r} ", f"+{value!r}", f"{value!r}\t", repr(value).upper()]
    return st.sampled_from(spellings if exact else [*spellings, f"{value:e}", f"{value:.2f}"])


prices = st.floats(min_value=0.01, max_value=1e6, allow_nan=False)
garbage_values = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.text(max_size=8),
    st.floats(),  # NaN, inf, negatives, subnormals
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.none(),
)
garbage_symbols = st.one_of(
    st.sampled_from(SYMBOLS_BAD), st.text(max_size=6), st.integers(), st.none(), st.just(np.nan)
)
garbage_ts = st.one_of(
    st.just(pd.NaT),
    st.sampled_from([pd.Timestamp("2204-01-02", tz="UTC"), pd.Timestamp("2024-06-02", tz="UTC")]),  # future
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2260, 1, 1), timezones=st.just(dt.UTC)),
)
garbage_payloads = st.one_of(st.text(max_size=10), st.sampled_from(['{"a":"\\u0000"}', '{"a":"\\\\u0000"}', "\x00"]))


@st.composite
def raw_rows(draw: st.DrawFn, position: int, garbage: bool = True) -> dict:
    """A valid bar (values as numbers or text), with any cells swapped for garbage unless told not to."""
    o, c = draw(prices), draw(prices)
    high = max(o, c) * draw(st.floats(1, 1.5))
    low = min(o, c) * draw(st.floats(0.5, 1))
    day = draw(st.sampled_from(DAYS))
    row = {
        "symbol": draw(st.sampled_from(SYMBOLS_GOOD)),
        "ts": pd.Timestamp(day, tz="UTC"),
        "open": o,
        "high": high,
        "low": low,
        "close": c,
        "adj_close": draw(st.one_of(prices, st.none(), st.just(""))),
        "volume": draw(st.one_of(st.integers(0, 10**9), st.floats(0, 1e12))),
        "source": f"r{position}",
        "partition_date": day,
        "payload": draw(st.one_of(st.none(), st.just(f'{{"line":{position}}}'))),
    }
    for column in VALUE_COLUMNS:
        if isinstance(row[column], float) and draw(st.booleans()):
            row[column] = draw(_as_text(row[column], exact=not garbage))
    broken = draw(st.sets(st.sampled_from([*RAW_COLUMNS[:-2], "payload"]), max_size=3))
    broken = broken if garbage and draw(st.integers(0, 2)) else set()  # a third of the rows are left valid
    for column in broken:
        if column == "symbol":
            row["symbol"] = draw(garbage_symbols)
        elif column == "ts":
            row["ts"] = draw(garbage_ts)
        elif column == "source":
            row["source"] += draw(st.sampled_from(["\x00", " é", ""]))
        elif column == "payload":
            row["payload"] = draw(garbage_payloads)
        elif column in VALUE_COLUMNS:
            row[column] = draw(garbage_values)
    return row


@st.composite
def raw_frames(draw: st.DrawFn) -> pd.DataFrame:
    size = draw(st.integers(0, 25))
    rows = [draw(raw_rows(i)) for i in range(size)]
    frame = pd.DataFrame(rows, columns=list(RAW_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("us")
    if draw(st.booleans()):  # as a landing hands them over: every value column object
        frame = frame.astype(dict.fromkeys(VALUE_COLUMNS, object))
    return frame


def _number(value: object) -> float | None:
    """The value as a number, by Python's own reading; None when it is not one (a bool, a NUL, words)."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str) and "\x00" not in value:
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _missing(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def _trace(frame: pd.DataFrame) -> list[int]:
    return [int(ID.match(s).group(1)) for s in frame["source"]]


def _assert_valid_bar(bar: pd.Series, given_row: pd.Series) -> None:
    """One accepted bar against the rules, and against the raw row it came from."""
    symbol = given_row["symbol"]
    assert isinstance(symbol, str)
    assert SYMBOL.fullmatch(symbol), symbol
    assert bar["symbol"] == symbol
    ts = given_row["ts"]
    assert not pd.isna(ts)
    assert ts == ts.normalize(), ts
    assert ts.date() <= NOW.date(), ts
    assert bar["ts"] == ts
    for column in VALUE_COLUMNS:
        raw, value = given_row[column], bar[column]
        if column == "adj_close" and _missing(raw):
            assert math.isnan(value)
            continue
        assert _number(raw) == value, (column, raw, value)  # a number as Python reads it, unchanged
        assert math.isfinite(value), (column, raw)
        assert value > 0 if column != "volume" else value >= 0, (column, raw)
    o, h, low, c = (bar[column] for column in PRICE_COLUMNS)
    assert low <= min(o, c), (o, h, low, c)
    assert h >= max(o, c), (o, h, low, c)
    for column in ("source", "payload"):
        assert "\x00" not in str(given_row[column])


@given(raw_frames())
def test_arbitrary_frames_lose_no_row_and_accept_only_valid_bars(raw: pd.DataFrame) -> None:
    before = raw.copy(deep=True)

    result = validate_bars(raw, now=NOW, ingested_at=STAMP)

    pd.testing.assert_frame_equal(raw, before)  # the input is not touched
    accepted, rejected = result.accepted, result.rejected
    assert len(accepted) + len(rejected) == len(raw)
    assert sorted(_trace(accepted) + _trace(rejected)) == list(range(len(raw)))  # each row exactly once
    for bar, at in zip(accepted.to_dict("records"), _trace(accepted), strict=True):
        _assert_valid_bar(pd.Series(bar), raw.iloc[at])
    assert not accepted.duplicated(["symbol", "ts"]).any()
    for reasons in rejected["reasons"]:
        assert isinstance(reasons, list)
        assert reasons
        assert all(isinstance(r, str) and r for r in reasons)
    assert all(isinstance(p, str) and "\x00" not in p for p in rejected["payload"])


@given(raw_frames())
def test_validation_is_deterministic(raw: pd.DataFrame) -> None:
    first = validate_bars(raw, now=NOW, ingested_at=STAMP)
    again = validate_bars(raw.copy(deep=True), now=NOW, ingested_at=STAMP)

    pd.testing.assert_frame_equal(first.accepted, again.accepted, check_exact=True)
    pd.testing.assert_frame_equal(first.rejected, again.rejected, check_exact=True)


@st.composite
def valid_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Valid bars with distinct keys, their values written as numbers or as text in any exact spelling."""
    keys = draw(st.lists(st.tuples(st.sampled_from(SYMBOLS_GOOD), st.sampled_from(DAYS)), unique=True, max_size=12))
    rows = [
        draw(raw_rows(i, garbage=False)) | {"symbol": symbol, "ts": pd.Timestamp(day, tz="UTC")}
        for i, (symbol, day) in enumerate(keys)
    ]
    frame = pd.DataFrame(rows, columns=list(RAW_COLUMNS))
    return frame.assign(ts=pd.to_datetime(frame["ts"], utc=True).dt.as_unit("us"))


@given(valid_frames())
def test_rows_that_keep_every_rule_are_all_accepted_as_written(raw: pd.DataFrame) -> None:
    """The other direction: a valid bar is never refused, and its numbers are the ones written."""
    result = validate_bars(raw, now=NOW, ingested_at=STAMP)

    assert result.rejected["reasons"].tolist() == []
    for bar, at in zip(result.accepted.to_dict("records"), _trace(result.accepted), strict=True):
        _assert_valid_bar(pd.Series(bar), raw.iloc[at])
