import datetime as dt
import itertools
import threading
import time

import pandas as pd
import pytest

from backbone_domain.bars import empty_raw
from backbone_domain.pipeline import (
    chunk_days_for,
    date_chunks,
    ingest,
    land_raw,
    reason_kind,
    validate_and_store,
)
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.base import BarStore, WriteCounts


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
    assert chunk_days_for(500) == 233  # 233 days of 500 symbols: at most 100k bars
    assert chunk_days_for(5_000) == 23
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
    def __init__(self) -> None:
        self.landed: list[dt.date] = []

    def replace_raw(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> int:
        self.landed.append(start)
        return len(raw)


def test_land_raw_stops_at_a_failed_fetch_and_fetches_no_further():
    source, landing = _Source(), _Store()
    with pytest.raises(RuntimeError, match="the source broke"):
        land_raw(source, landing, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 31)  # type: ignore[arg-type]
    assert source.fetched == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    assert landing.landed == [dt.date(2024, 1, 1)]


class _Releasing:
    """Records fetches and the release, in order."""

    name = "releasing"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def fetch(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        self.calls.append(f"fetch {start}")
        return empty_raw()

    def release(self) -> None:
        self.calls.append("release")


def test_land_raw_releases_the_sources_parsed_files_once_the_range_is_landed():
    source = _Releasing()
    land_raw(source, _Store(), dt.date(2024, 1, 1), dt.date(2024, 3, 31), 31)  # type: ignore[arg-type]
    assert source.calls == ["fetch 2024-01-01", "fetch 2024-02-01", "fetch 2024-03-03", "release"]


class _Validating:
    """Records writes; with ``overlapping_reads`` the pipeline writes on a worker thread (``_behind``)."""

    def __init__(self, overlapping_reads: bool, fail_write_at: int | None = None, fail_read_at: int | None = None):
        self.overlapping_reads = overlapping_reads
        self.fail_write_at, self.fail_read_at = fail_write_at, fail_read_at
        self.reads = 0
        self.written: list[dt.date] = []
        self.threads: set[str] = set()

    def read_raw(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        self.reads += 1
        if self.reads == self.fail_read_at:
            raise RuntimeError("the read broke")
        return empty_raw()

    def holds_bars(self, start: dt.date, end: dt.date) -> bool:
        return False  # nothing stored: no reconciling read

    def write_validated(
        self, start: dt.date, end: dt.date, accepted: pd.DataFrame, rejected: pd.DataFrame, retired=None, load=None
    ):
        self.threads.add(threading.current_thread().name)
        if len(self.written) == self.fail_write_at:
            raise RuntimeError("the write broke")
        time.sleep(0.05)  # a write still running when a later read fails has to end first
        self.written.append(start)
        return WriteCounts(bars=0, rejected=0)


@pytest.mark.parametrize("overlapping", [False, True], ids=["inline", "write-behind"])
def test_a_failed_read_lets_the_write_in_flight_end_whole_and_writes_no_further(overlapping: bool) -> None:
    store = _Validating(overlapping, fail_read_at=2)
    with pytest.raises(RuntimeError, match="the read broke"):
        validate_and_store(store, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 31)  # type: ignore[arg-type]
    assert store.written == [dt.date(2024, 1, 1)]  # whole, before the error left
    assert any(name.startswith("backbone-write") for name in store.threads) == overlapping


def test_a_failed_write_behind_stops_at_that_chunk() -> None:
    store = _Validating(overlapping_reads=True, fail_write_at=2)
    with pytest.raises(RuntimeError, match="the write broke"):
        validate_and_store(store, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 31)  # type: ignore[arg-type]
    assert store.written == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]  # in order; nothing after the failure


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


class _Faulty:
    """Synthetic bars with MSFT's high below its low on days 3, 13 and 23: rejected, with a reason."""

    name = "faulty"

    def __init__(self) -> None:
        self.inner = SyntheticSource(symbols=["AAPL", "EURUSD", "MSFT"])
        self.released = False

    def fetch(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        raw = self.inner.fetch(start, end)
        raw.loc[(raw["symbol"] == "MSFT") & (raw["ts"].dt.day % 10 == 3), "high"] = -1.0
        return raw

    def release(self) -> None:
        self.released = True


def test_ingest_in_one_pass_stores_what_landing_then_validating_stores(store: BarStore) -> None:
    """On every backend: the one-pass flow lands the same raw rows and stores the same bars and rejected rows as
    the two passes: landing and validating the range again, in other chunks, leaves every row as it was."""
    source = _Faulty()
    start, end = dt.date(2023, 11, 1), dt.date(2024, 2, 29)
    now = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    lines: list[str] = []

    landed, stored = ingest(source, store, start, end, 31, now=now, progress=lines.append, progress_every_s=0)
    bars, rejected, raw = store.read_bars(start, end), store.read_rejected(start, end), store.read_raw(start, end)

    again = land_raw(source, store, start, end, 45)
    validated = validate_and_store(store, start, end, 45, now=now + dt.timedelta(days=1), source=source.name)
    assert (landed.rows, landed.chunks, landed.per_symbol) == (again.rows, 4, again.per_symbol)
    assert (stored.accepted, stored.changed, stored.rejected) == (len(bars), len(bars), len(rejected))
    assert (validated.accepted, validated.rejected) == (len(bars), len(rejected))
    assert stored.reasons == validated.reasons
    assert stored.rejected > 0
    pd.testing.assert_frame_equal(store.read_bars(start, end), bars)
    pd.testing.assert_frame_equal(store.read_raw(start, end), raw)
    assert store.read_rejected(start, end).drop(columns="rejected_at").equals(rejected.drop(columns="rejected_at"))
    assert source.released
    assert lines[0].startswith("ingesting: 2023-11-01..2024-02-29 in 4 chunks")
    assert lines[-1].startswith("ingesting: 4/4 chunks")


def test_ingest_stops_at_a_failed_write_with_whole_chunks_landed_and_stored() -> None:
    class _Landing(_Validating):
        def __init__(self) -> None:
            super().__init__(overlapping_reads=True, fail_write_at=1)
            self.landings: list[dt.date] = []

        def land(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> pd.DataFrame:
            self.landings.append(start)
            return raw

    store = _Landing()
    with pytest.raises(RuntimeError, match="the write broke"):
        ingest(_Releasing(), store, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 31)  # type: ignore[arg-type]
    assert store.written == [dt.date(2024, 1, 1)]
    assert store.landings[:2] == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]  # the next landed while one was written
    assert len(store.landings) <= 3  # and nothing far beyond the failure
