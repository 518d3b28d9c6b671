"""DuckDBBarStore beyond the shared contract: DuckDB's file lock met by real processes, migrations, the weekly
view, raw values as text, and independence from the session / machine time zone."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from backbone_domain.bars import empty_rejected, utc_midnight
from backbone_resources.store.base import QualityCounts, StoreUnavailable, WriteCounts
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_tests.builders import MON, bars, raw_rows, rejected_rows

# Another process holding the file: read-write (argv[3] == "rw") or read-only, for argv[2] seconds.
HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=sys.argv[3] == "ro")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    """
)


@contextmanager
def held(path: str, seconds: float, mode: str = "rw") -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path, str(seconds), mode], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "home" / "backbone.duckdb")


@pytest.fixture
def store(path: str) -> DuckDBBarStore:
    store = DuckDBBarStore(path=path, lock_timeout_s=30)
    store.ping()  # creates and migrates the file before any other process touches it
    return store


# -- DuckDB's file lock, with real processes ----------------------------------------------------------------


def test_calls_wait_while_another_process_holds_the_file(store: DuckDBBarStore, path: str) -> None:
    def timed(call, *args):
        started = time.monotonic()
        return call(*args), time.monotonic() - started

    with held(path, 2.0), ThreadPoolExecutor(2) as pool:
        write = pool.submit(
            timed, store.write_validated, MON, MON, bars(["AAA", "BBB"], [MON]), rejected_rows([MON], 1)
        )
        read = pool.submit(timed, store.read_bars, MON, MON)
        (counts, write_s), (frame, read_s) = write.result(), read.result()

    assert counts == WriteCounts(bars=2, rejected=1)
    assert write_s > 1.0
    assert read_s > 1.0
    assert len(frame) in (0, 2)  # before or after the write, never half of it
    assert len(store.read_bars(MON, MON)) == 2


def test_readers_do_not_wait_for_a_read_only_process(store: DuckDBBarStore, path: str) -> None:
    store.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
    with held(path, 5.0, mode="ro"):
        started = time.monotonic()
        assert len(store.read_bars(MON, MON)) == 1
        assert store.quality_counts().bars == 1
        assert time.monotonic() - started < 2.0


def test_gives_up_after_lock_timeout_naming_file_and_holder(path: str) -> None:
    store = DuckDBBarStore(path=path, lock_timeout_s=1)
    store.ping()
    with held(path, 5.0) as holder:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=re.escape(path)) as failure:
            store.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
        elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 3.0
    assert f"PID {holder.pid}" in str(failure.value)
    assert "lock_timeout_s" in str(failure.value)


def test_other_open_errors_are_not_retried(tmp_path: Path) -> None:
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("not a database")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="BACKBONE_HOME"):
        DuckDBBarStore(path=str(not_duckdb), lock_timeout_s=30).ping()
    assert time.monotonic() - started < 2.0


CHUNKS, SYMBOLS, REJECTED = 20, 500, 3
WRITER_STARTS = (dt.date(2024, 1, 1), dt.date(2024, 3, 1))


def _write_chunks(path: str, first: dt.date) -> int:
    store = DuckDBBarStore(path=path, lock_timeout_s=60)
    symbols = [f"S{i:03d}" for i in range(SYMBOLS)]
    for i in range(CHUNKS):
        day = first + dt.timedelta(days=i)
        store.write_validated(day, day, bars(symbols, [day]), rejected_rows([day], REJECTED))
    return CHUNKS


def _read_until_complete(path: str, expected: int) -> int:
    store = DuckDBBarStore(path=path, lock_timeout_s=60)
    deadline, reads = time.monotonic() + 120, 0
    while time.monotonic() < deadline:
        frame = store.read_bars(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
        reads += 1
        assert len(frame) % SYMBOLS == 0, "a reader saw part of a chunk"
        if len(frame) == expected:
            return reads
    raise AssertionError("the writers' rows never all arrived")


@pytest.mark.slow
def test_parallel_writer_processes_and_a_reader(path: str) -> None:
    expected = len(WRITER_STARTS) * CHUNKS * SYMBOLS
    # A fresh file: the processes also race to create and migrate it.
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        writers = [pool.submit(_write_chunks, path, first) for first in WRITER_STARTS]
        reader = pool.submit(_read_until_complete, path, expected)
        assert [w.result(timeout=300) for w in writers] == [CHUNKS, CHUNKS]
        assert reader.result(timeout=300) >= 1

    store = DuckDBBarStore(path=path)
    rejected_rows = len(WRITER_STARTS) * CHUNKS * REJECTED
    assert store.quality_counts() == QualityCounts(expected, 0, 0, rejected_rows)
    first = WRITER_STARTS[0]
    assert store.range_counts(first, first + dt.timedelta(days=CHUNKS - 1)) == WriteCounts(
        CHUNKS * SYMBOLS, CHUNKS * REJECTED
    )


# -- migrations ---------------------------------------------------------------------------------------------


def _migrations(path: str) -> list[tuple[int, dt.datetime]]:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute("SELECT version, applied_at FROM market_data.schema_migrations ORDER BY 1").fetchall()


def test_overlapping_landings_in_one_process_end_with_exactly_one_copy(path: str, monkeypatch) -> None:
    """Across processes the file lock serializes writers; in one process the store's own lock must (issue 13, D5):
    the first landing is held just before its commit while the second runs."""
    first, second = DuckDBBarStore(path=path), DuckDBBarStore(path=path)
    first.ping()
    second.ping()  # migrated: otherwise its read-only look at the migrations waits for the first instead
    opened, written = DuckDBBarStore._open, threading.Event()

    class SlowCommit:
        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self.con = con

        def __getattr__(self, name: str) -> object:
            return getattr(self.con, name)

        def commit(self) -> None:
            written.set()
            time.sleep(1.0)
            self.con.commit()

    @contextmanager
    def slow(self: DuckDBBarStore, *, read_only: bool) -> Iterator[object]:
        with opened(self, read_only=read_only) as con:
            yield con if read_only or threading.current_thread().name != "first" else SlowCommit(con)

    monkeypatch.setattr(DuckDBBarStore, "_open", slow)
    one = threading.Thread(target=first.replace_raw, args=(MON, MON, raw_rows(MON).assign(source="a")), name="first")
    one.start()
    assert written.wait(30)
    second.replace_raw(MON, MON, raw_rows(MON).assign(source="b"))
    one.join(30)

    assert second.read_raw(MON, MON)["source"].tolist() == ["b"] * 4


def test_migrations_apply_once_and_rerun_safely(store: DuckDBBarStore, path: str) -> None:
    store.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
    applied = _migrations(path)
    assert [version for version, _ in applied] == [1, 2, 3, 4, 5, 6]

    DuckDBBarStore(path=path).ping()
    assert _migrations(path) == applied

    # A migration whose record was lost runs again over the existing objects without harm.
    with duckdb.connect(path) as con:
        con.execute("DELETE FROM market_data.schema_migrations WHERE version = 2")
    again = DuckDBBarStore(path=path)
    assert len(again.read_weekly(MON, MON)) == 1
    assert [version for version, _ in _migrations(path)] == [1, 2, 3, 4, 5, 6]
    assert again.quality_counts().bars == 1


def test_bar_loads_arrive_over_stored_bars_and_versions_whose_run_is_unknown(path: str) -> None:
    """A file from before migration 5: its bars and versions stay, and their run reads as unknown (None)."""
    old = DuckDBBarStore(path=path)
    old.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected())
    newer = bars(["AAA"], [MON], close=1.0, low=0.5, open=0.9, ingested_at=pd.Timestamp("2024-03-01", tz="UTC"))
    old.write_validated(MON, MON, newer, empty_rejected())
    with duckdb.connect(path) as con:  # back to the schema of migration 4
        con.execute("DROP TABLE market_data.bar_loads")
        con.execute("DELETE FROM market_data.schema_migrations WHERE version = 5")

    history = DuckDBBarStore(path=path).bar_history("AAA", MON)

    assert history["reason"].tolist() == ["corrected", None]
    assert history["run_id"].tolist() == [None, None]
    assert history["close"].tolist()[1] == 1.0
    assert [version for version, _ in _migrations(path)] == [1, 2, 3, 4, 5, 6]


# -- behaviour of the DuckDB tables -------------------------------------------------------------------------


def test_rejected_rows_keep_any_payload(store: DuckDBBarStore, path: str) -> None:
    refused = rejected_rows([MON], 3).assign(
        payload=[{"open": "x"}, "not JSON", None], reasons=["one", None, ("a", "b")]
    )
    store.write_validated(MON, MON, bars(["AAA"], [MON]), refused)
    with duckdb.connect(path, read_only=True) as con:
        rows = con.execute("SELECT payload, reasons FROM market_data.rejected_bars ORDER BY symbol").fetchall()
    assert rows == [('{"open": "x"}', ["one"]), ('"not JSON"', []), (None, ["a", "b"])]


def test_describe() -> None:
    info = DuckDBBarStore(path="/nowhere/backbone.duckdb").describe()
    assert info["backend"] == "duckdb"
    assert info["endpoint"] == "/nowhere/backbone.duckdb"
    assert info["weekly_bars"] == "view"
    assert not info["timescaledb"]


# -- time zones ---------------------------------------------------------------------------------------------


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's zone is New York: DuckDB's default session TimeZone follows it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    with duckdb.connect() as con:
        assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "America/New_York"
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york")
def test_utc_whatever_the_time_zone(store: DuckDBBarStore, path: str) -> None:
    sunday, monday = (
        dt.date(2024, 1, 7),
        dt.date(2024, 1, 8),
    )  # 00:00 UTC Monday is Sunday evening in New York
    written = bars(["AAA"], [sunday, monday])
    store.write_validated(sunday, monday, written, empty_rejected())

    pd.testing.assert_frame_equal(store.read_bars(sunday, monday), written)
    assert store.latest_bar_dates() == {"AAA": monday}
    assert store.range_counts(monday, monday) == WriteCounts(bars=1, rejected=0)
    weeks = store.read_weekly(MON, monday)
    assert weeks["week"].tolist() == [utc_midnight(MON), utc_midnight(monday)]
    assert weeks["bars"].tolist() == [1, 1]

    # The view itself is zone-proof: a plain session in New York time sees the same weeks.
    with duckdb.connect(path, read_only=True) as con:
        con.execute("SET TimeZone = 'America/New_York'")
        rows = con.execute("SELECT week, bars FROM market_data.weekly_bars ORDER BY week").fetchall()
    assert [(pd.Timestamp(week), n) for week, n in rows] == [
        (utc_midnight(MON), 1),
        (utc_midnight(monday), 1),
    ]
