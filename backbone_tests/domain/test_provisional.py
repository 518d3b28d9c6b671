"""The provisional daily bar: built from a session's stored minutes, shown only until a final bar of its session
is there, and held in the cache as text whose order is the sessions' order."""

from __future__ import annotations

import datetime as dt

from backbone_domain import provisional
from backbone_domain.intraday_bars import intraday_frame
from backbone_domain.intraday_replay import session_bars
from backbone_resources.source.synthetic import SyntheticSource

SESSION = dt.date(2024, 1, 2)


def _bars() -> list[provisional.ProvisionalBar]:
    frame = SyntheticSource(symbols=["MSFT", "AAPL"]).fetch_intraday(SESSION, interval_minutes=5)
    minutes = intraday_frame(session_bars(frame))
    return provisional.from_minutes(minutes[minutes["ts"] < "2024-01-02 16:00Z"])  # the first 90 minutes


def test_from_minutes_folds_each_symbol_so_far() -> None:
    aapl, msft = _bars()

    assert (aapl.symbol, msft.symbol) == ("AAPL", "MSFT")
    assert (aapl.session, aapl.bars, aapl.source) == (SESSION, 18, "synthetic")
    assert aapl.through == dt.datetime(2024, 1, 2, 16, 0, tzinfo=dt.UTC)
    assert aapl.low <= min(aapl.open, aapl.close) <= max(aapl.open, aapl.close) <= aapl.high


def test_shown_until_a_final_bar_of_its_session_is_there() -> None:
    bar = _bars()[0]

    assert provisional.shown(bar, None) is bar
    assert provisional.shown(bar, SESSION - dt.timedelta(days=1)) is bar
    assert provisional.shown(bar, SESSION) is None
    assert provisional.shown(bar, SESSION + dt.timedelta(days=1)) is None
    assert provisional.shown(None, None) is None


def test_encoding_round_trips_and_orders_by_session() -> None:
    bar = _bars()[0]
    text = provisional.encode(bar)

    assert provisional.decode(text) == bar
    assert provisional.decode(text.encode()) == bar
    older = text.replace("2024-01-02", "2024-01-01", 1)
    assert provisional.newer_or_same(None, text)
    assert provisional.newer_or_same(older, text)
    assert provisional.newer_or_same(text, text)
    assert not provisional.newer_or_same(text.encode(), older)


def test_fold_advances_by_the_next_bar_only() -> None:
    frame = SyntheticSource(symbols=["AAPL"]).fetch_intraday(SESSION, interval_minutes=30)
    bars = session_bars(frame)
    (held,) = provisional.from_minutes(intraday_frame(bars[:4]))

    folded = provisional.fold(held, bars[4])

    assert folded == provisional.from_minutes(intraday_frame(bars[:5]))[0]
    assert provisional.fold(held, bars[3]) is None  # already counted: a copy or a correction
    assert provisional.fold(None, bars[4]) is None  # nothing held: only the store can say
    other_day = session_bars(
        SyntheticSource(symbols=["AAPL"]).fetch_intraday(dt.date(2024, 1, 3), interval_minutes=30)
    )[0]
    assert provisional.fold(held, other_day) is None
