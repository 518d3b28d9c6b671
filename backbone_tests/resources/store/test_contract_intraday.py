"""The intraday half of the BarStore contract, over every backend (DuckDB, PostgreSQL, TimescaleDB): a session's
bars round-trip exactly, a replayed session changes nothing, versions decide, reads select sessions and symbols."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from backbone_domain.intraday_bars import INTRADAY_DTYPES, STORED_INTRADAY_COLUMNS, intraday_frame
from backbone_domain.intraday_replay import session_bars
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.base import BarStore

SESSION = dt.date(2024, 1, 2)
NEXT = dt.date(2024, 1, 3)


def _session(day: dt.date, symbols: tuple[str, ...] = ("AAPL", "EURUSD", "MSFT"), minutes: int = 30) -> pd.DataFrame:
    """A synthetic session's bars as the intraday handler stores them (each with the version it closed at)."""
    frame = SyntheticSource(symbols=list(symbols)).fetch_intraday(day, interval_minutes=minutes)
    return intraday_frame(session_bars(frame))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["symbol", "ts", "interval_s"], ignore_index=True)


def test_a_session_round_trips_exactly(store: BarStore) -> None:
    bars = _session(SESSION)
    bars.loc[0, "open"] = 0.1 + 0.2  # all 17 digits survive

    assert store.write_intraday(bars) == len(bars)

    back = store.read_intraday(SESSION, SESSION)
    assert list(back.columns) == list(STORED_INTRADAY_COLUMNS)
    assert back.dtypes.astype(str).to_dict() == INTRADAY_DTYPES
    pd.testing.assert_frame_equal(back, _sorted(bars), check_exact=True)
    assert {type(d) for d in back["session"]} == {dt.date}


def test_a_replayed_session_writes_the_same_rows_and_changes_nothing(store: BarStore) -> None:
    bars = _session(SESSION)
    store.write_intraday(bars)

    assert store.write_intraday(bars) == 0  # every key already holds this version
    assert store.write_intraday(bars.iloc[::-1]) == 0
    pd.testing.assert_frame_equal(store.read_intraday(SESSION, SESSION), _sorted(bars))


def test_a_newer_version_replaces_an_older_one_never_the_reverse(store: BarStore) -> None:
    bars = _session(SESSION, ("AAPL",))
    store.write_intraday(bars)
    corrected = bars.iloc[[0]].assign(close=bars["close"].iloc[0] + 0.01)
    corrected["ingested_at"] += pd.Timedelta(hours=1)
    stale = bars.iloc[[0]].assign(close=1.0)
    stale["ingested_at"] -= pd.Timedelta(hours=1)

    assert store.write_intraday(corrected) == 1
    assert store.write_intraday(stale) == 0

    back = store.read_intraday(SESSION, SESSION)
    assert len(back) == len(bars)
    assert back.loc[0, "close"] == corrected["close"].iloc[0]
    assert back.loc[0, "ingested_at"] == corrected["ingested_at"].iloc[0]


def test_duplicate_keys_in_one_write_keep_the_newest(store: BarStore) -> None:
    first = _session(SESSION, ("MSFT",)).iloc[[0]]
    newer = first.assign(volume=7.0, ingested_at=first["ingested_at"] + pd.Timedelta(minutes=1))

    assert store.write_intraday(pd.concat([newer, first], ignore_index=True)) == 1

    assert store.read_intraday(SESSION, SESSION)["volume"].tolist() == [7.0]


def test_reads_select_sessions_and_symbols(store: BarStore) -> None:
    store.write_intraday(pd.concat([_session(SESSION), _session(NEXT)], ignore_index=True))

    some = store.read_intraday(NEXT, NEXT, symbols=["MSFT", "EURUSD"])

    assert set(some["session"]) == {NEXT}
    assert list(dict.fromkeys(some["symbol"])) == ["EURUSD", "MSFT"]  # ordered by symbol, then ts
    assert some.groupby("symbol")["ts"].is_monotonic_increasing.all()
    assert len(store.read_intraday(SESSION, NEXT)) == 2 * len(_session(SESSION))
    empty = store.read_intraday(dt.date(2030, 1, 1), dt.date(2030, 1, 2))
    assert empty.empty
    assert empty.dtypes.astype(str).to_dict() == INTRADAY_DTYPES


def test_an_empty_write_writes_nothing(store: BarStore) -> None:
    assert store.write_intraday(_session(SESSION).iloc[:0]) == 0
    assert store.read_intraday(SESSION, SESSION).empty


def test_one_minute_bars_of_a_whole_fx_day_fit(store: BarStore) -> None:
    bars = _session(SESSION, ("EURUSD",), 1)
    store.write_intraday(bars)
    back = store.read_intraday(SESSION, SESSION, ["EURUSD"])
    assert len(back) == len(bars) > 1_000  # an FX session is the whole UTC day
