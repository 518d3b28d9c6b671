import datetime as dt
import itertools
import threading
import time

import pandas as pd
import pytest

from backbone_domain.bars import empty_raw
from backbone_domain.pipeline import chunk_days_for, date_chunks, land_raw, reason_kind, validate_and_store
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.base import BarStore


def test_date_chunks_cover_the_range_without_gaps_or_overlap():
    chunks = list(date_chunks(dt.date(2024, 1, 1), dt.date(2024, 3, 5), 31))
    assert chunks[0][0] == dt.date(2024, 1, 1)
    assert chunks[-1][1] == dt.date(2024, 3, 5)
    for (_, prev_end), (next_start, _) in itertools.pairwise(chunks):
        assert next_start == prev_end + dt.timedelta(days=1)
    assert all((e - s).days < 31 for s, e in chunks)
    assert len(chunks) == 3


def test_single_day_and_reversed_ranges():
    day = dt.date(2024, 5, 1)
    assert list(date_chunks(day, day, 31)) == [(day, day)]
    with pytest.raises(ValueError, match="before start"):
        list(date_chunks(day, day - dt.timedelta(days=1), 31))


def test_reason_kind_drops_the_value():
    assert reason_kind("open is not a number: 'abc'") == "open is not a number"


def test_chunk_days_follow_the_universe_so_rows_bound_a_chunk():
    assert chunk_days_for(500) == 350  # 350 days of 500 symbols: at most 150k bars
    assert chunk_days_for(5_000) == 35
    assert chunk_days_for(10_000_000) == 1
    assert chunk_days_for(0) == 3660
    assert chunk_days_for(3) == 3660  # a few symbols: ten years a chunk, not 236 monthly transactions
    assert chunk_days_for(100, rows_per_chunk=6_000) == 70


class _Source:
    """Records fetches; the second chunk fails."""

    def __init__(self) -> None:
        self.fetched: list[dt.date] = []

    def fetch(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        self.fetched.append(start)
        if len(self.fetched) == 2:
            raise RuntimeError("the source broke")
        return empty_raw()


class _Store:
    """Records landings; with ``overlapping_reads`` the pipeline writes on a worker thread (``_behind``)."""

    def __init__(self, overlapping_reads: bool = False, fail_at: int | None = None) -> None:
        self.overlapping_reads = overlapping_reads
        self.fail_at = fail_at
        self.landed: list[dt.date] = []
        self.threads: set[str] = set()

    def replace_raw(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> int:
        self.threads.add(threading.current_thread().name)
        if len(self.landed) == self.fail_at:
            raise RuntimeError("the store broke")
        time.sleep(0.05)  # a write still running when the next fetch fails has to end first
        self.landed.append(start)
        return len(raw)


@pytest.mark.parametrize("overlapping", [False, True], ids=["inline", "write-behind"])
def test_land_raw_stops_at_a_failed_fetch_and_fetches_no_further(overlapping: bool) -> None:
    source, landing = _Source(), _Store(overlapping)
    with pytest.raises(RuntimeError, match="the source broke"):
        land_raw(source, landing, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 31)  # type: ignore[arg-type]
    assert source.fetched == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    assert landing.landed == [dt.date(2024, 1, 1)]  # the chunk already writing ended: whole, before the error
    assert any(name.startswith("backbone-write") for name in landing.threads) == overlapping


def test_a_failed_write_behind_stops_the_landing_at_that_chunk() -> None:
    landing = _Store(overlapping_reads=True, fail_at=2)
    with pytest.raises(RuntimeError, match="the store broke"):
        land_raw(_EmptySource(), landing, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 31)  # type: ignore[arg-type]
    assert landing.landed == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]  # in order; nothing after the failure


class _EmptySource:
    def fetch(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        return empty_raw()


def test_a_rerun_of_the_flow_leaves_identical_rows_and_versions(store: BarStore) -> None:
    """On every backend; PostgreSQL reads the next chunk while it writes this one (``overlapping_reads``)."""
    source = SyntheticSource(symbols=["AAPL", "EURUSD", "MSFT"])
    start, end = dt.date(2023, 11, 1), dt.date(2024, 2, 29)
    now = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    land_raw(source, store, start, end, 31)
    first = validate_and_store(store, start, end, 31, now=now)
    stored = store.read_bars(start, end)

    land_raw(source, store, start, end, 45)  # other chunk boundaries, same rows
    again = validate_and_store(store, start, end, 45, now=now + dt.timedelta(days=1))

    assert (first.accepted, first.changed, again.accepted, again.changed) == (len(stored), len(stored), len(stored), 0)
    pd.testing.assert_frame_equal(store.read_bars(start, end), stored)
