"""The ``BarSource`` contract (``backbone_resources/source/base.py``), held to every backend in conftest.py:
synthetic, the file source over CSV (both readers) and Parquet (from memory and from its stage), and Yahoo
through a fake ``yfinance``. Every backend serves the same origin, so they must also agree with each other."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from backbone_domain.bars import RAW_COLUMNS, VALUE_COLUMNS
from backbone_resources.source.base import BarSource, SourceUnavailable
from backbone_tests.builders import sort_bars
from backbone_tests.resources.source.conftest import END, START, SYMBOLS, Backend

D = dt.date
SATURDAY = D(2024, 1, 6)  # no session for any symbol: FX trades Sunday..Friday


def chunks(start: dt.date, end: dt.date, days: int | None) -> Iterator[tuple[dt.date, dt.date]]:
    """[start, end] cut into consecutive ranges of ``days`` days (the last may be shorter); None: months."""
    while start <= end:
        if days is None:
            last = min((pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date(), end)
        else:
            last = min(start + dt.timedelta(days=days - 1), end)
        yield start, last
        start = last + dt.timedelta(days=1)


def assert_raw_frame(frame: pd.DataFrame) -> None:
    """``RAW_COLUMNS`` with ``bars.RAW_DTYPES``' dtypes; values are text or numbers as the origin had them."""
    assert tuple(frame.columns) == RAW_COLUMNS
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    for column in ("symbol", "source", "partition_date", "payload"):
        assert frame[column].dtype == object, column
    for column in VALUE_COLUMNS:
        assert frame[column].dtype in (np.dtype(object), np.dtype("float64")), column


def test_frame_has_the_raw_columns_and_dtypes(backend: Backend, source: BarSource):
    bars = source.fetch(START, END)
    assert_raw_frame(bars)
    assert (bars["ts"] == bars["ts"].dt.normalize()).all()
    assert bars["partition_date"].map(type).eq(dt.date).all()
    assert (bars["partition_date"] == bars["ts"].dt.date).all()
    assert bars["symbol"].map(type).eq(str).all()
    assert (bars["source"] == source.name).all()
    ordered = bars.sort_values(["symbol", "partition_date", "ts"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(bars, ordered)
    assert not bars.duplicated(["symbol", "ts"]).any()
    if backend.payloads:
        records = [json.loads(p) for p in bars["payload"]]
        assert [r["file"].split(".")[0] for r in records] == bars["symbol"].tolist()
        assert all(("line" in r) != ("row" in r) for r in records)
    else:
        assert bars["payload"].isna().all()


def test_every_backend_serves_the_origins_bars(source: BarSource, origin: pd.DataFrame):
    bars = source.fetch(START, END)
    keys = ["symbol", "ts", "partition_date"]
    pd.testing.assert_frame_equal(bars[keys], origin[keys])
    for column in VALUE_COLUMNS:  # text from a CSV file, numbers elsewhere: equal as numbers
        np.testing.assert_array_equal(bars[column].astype("float64"), origin[column].astype("float64"))


def test_same_arguments_same_data(backend: Backend, source: BarSource):
    first = source.fetch(D(2024, 1, 10), D(2024, 2, 5), symbols=["MSFT", "EURUSD"])
    again = source.fetch(D(2024, 1, 10), D(2024, 2, 5), symbols=["MSFT", "EURUSD"])
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    anew = backend.make().fetch(D(2024, 1, 10), D(2024, 2, 5), symbols=["MSFT", "EURUSD"])
    pd.testing.assert_frame_equal(first, anew, check_exact=True)
    assert len(first) > 0


@pytest.mark.parametrize("days", [None, 1, 3, 7, 11], ids=["months", "days", "3-days", "weeks", "11-days"])
def test_one_fetch_equals_the_concatenation_of_any_partitioning(source: BarSource, days: int | None):
    """Every row exactly once: none lost at a chunk's edge, none returned by two chunks."""
    whole = source.fetch(START, END)
    parts = [source.fetch(a, b) for a, b in chunks(START, END, days)]
    joined = pd.concat(parts).sort_values(["symbol", "ts"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(whole, joined, check_exact=True)


@pytest.mark.parametrize(
    ("start", "end"), [(START, END), (D(2024, 1, 10), D(2024, 2, 3)), (D(2024, 1, 15), D(2024, 1, 15)), (END, END)]
)
def test_partition_dates_lie_in_the_requested_range(source: BarSource, start: dt.date, end: dt.date):
    bars = source.fetch(start, end)
    assert len(bars) > 0
    assert bars["partition_date"].between(start, end).all()


def test_universe_lists_the_symbols_served(source: BarSource):
    assert sorted(source.universe()) == list(SYMBOLS)
    assert sorted(source.fetch(START, END)["symbol"].unique()) == sorted(source.universe())


def test_configured_symbols_narrow_the_universe(backend: Backend):
    narrowed = backend.make(["msft"])
    assert narrowed.universe() == ["MSFT"]
    assert set(narrowed.fetch(START, END)["symbol"]) == {"MSFT"}


def test_a_symbols_rows_do_not_depend_on_the_other_symbols_asked_for(source: BarSource):
    everything = source.fetch(START, END)
    alone = source.fetch(START, END, symbols=["aapl"])
    within = everything[everything["symbol"] == "AAPL"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, within, check_exact=True)


@pytest.mark.parametrize(
    ("start", "end", "symbols"),
    [(D(2024, 1, 10), D(2024, 1, 1), None), (START, END, []), (SATURDAY, SATURDAY, None)],
    ids=["end-before-start", "no-symbols", "a-saturday"],
)
def test_a_request_without_data_gives_an_empty_raw_frame(source: BarSource, start, end, symbols):
    bars = source.fetch(start, end, symbols=symbols)
    assert bars.empty
    assert_raw_frame(bars)
    both = sort_bars(pd.concat([bars, source.fetch(START, D(2024, 1, 5))]))
    assert_raw_frame(both)  # an empty answer does not change the dtypes of what it is concatenated with


def test_an_unreadable_origin_raises_source_unavailable(backend: Backend, source: BarSource):
    if backend.break_origin is None:
        pytest.skip(f"{backend.name} computes its bars: there is no origin to lose")
    source.fetch(START, D(2024, 1, 5))  # read once, so a cache cannot hide the loss
    backend.break_origin()
    with pytest.raises(SourceUnavailable):
        source.fetch(START, END)


def test_the_order_case_and_repetition_of_symbols_do_not_matter(source: BarSource):
    asked = source.fetch(START, D(2024, 1, 31), symbols=["MSFT", "aapl", "AAPL"])
    pd.testing.assert_frame_equal(asked, source.fetch(START, D(2024, 1, 31), symbols=["AAPL", "MSFT"]))


def test_a_range_before_the_origins_first_bar_gives_an_empty_frame(request, backend: Backend, source: BarSource):
    if backend.break_origin is None:
        pytest.skip(f"{backend.name} computes a bar for every session: its origin has no first bar")
    if backend.name == "yahoo":
        reason = (
            "Yahoo answers an outage and a range with no records alike (nothing), and YahooSource treats nothing "
            "on a past session as an outage: a range before every asked symbol's first bar (a backfill from "
            "before a listing) raises SourceUnavailable instead of giving an empty frame"
        )
        request.applymarker(pytest.mark.xfail(strict=True, raises=SourceUnavailable, reason=reason))
    bars = source.fetch(D(2023, 12, 1), D(2023, 12, 29))
    assert bars.empty
    assert_raw_frame(bars)
