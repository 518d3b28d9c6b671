"""Intraday bars from files beside the daily ones, in the same layout habits (``FileSource.fetch_intraday``).

Under ``<directory>/intraday/``, per symbol, either layout (the name, upper-cased or mapped by ``symbol_map``, is
the symbol, as for the daily files):

- ``<SYMBOL>.csv`` / ``<SYMBOL>.parquet``: every session of the symbol in one file;
- ``<SYMBOL>/<YYYY-MM-DD>.csv`` / ``.parquet``: one file per session.

Columns: a timestamp (named ``Datetime``, ``timestamp``, ``ts``, ... or else the first column: ISO-8601; an
offset such as Yahoo's ``-05:00`` is honoured, a timestamp without one is UTC) and ``Open``, ``High``, ``Low``,
``Close``, ``Volume`` (any case; other columns are ignored). Each row is a bar starting at its timestamp; the
bars inside the session's hours are bucketed into N-minute intervals from the open (first open, max high, min
low, last close, summed volume), so 1-minute files serve any N they divide. An interval without a bar in the
file gives no bar.

Intraday bars go to the stream without the daily validation layer in between, so a file that cannot be read as
a whole (a cell that is not a number or not a timestamp, a missing column, bars further apart than N minutes, two
files for one symbol and session) fails the request with ``SourceUnreadable`` naming the file and line: nothing
of a doubtful file is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import pandas as pd

from backbone_domain.bars import INTRADAY_COLUMNS, PRICE_COLUMNS
from backbone_domain.calendars import is_trading_day, session_hours
from backbone_resources.source.file_formats import date_column, normal_name
from backbone_resources.unavailable import SourceUnreadable

INTRADAY_DIR: Final = "intraday"
SUFFIXES: Final = (".csv", ".parquet")
_VALUES: Final = (*PRICE_COLUMNS, "volume")


def read_session(
    root: Path,
    session: dt.date,
    symbols: Sequence[str],
    interval_minutes: int,
    symbol_of: Callable[[Path], str],
    source: str,
) -> pd.DataFrame:
    """The ``INTRADAY_COLUMNS`` frame of ``symbols``' bars in ``session`` (see the module docstring)."""
    files = _files(root / INTRADAY_DIR, session, symbol_of)
    frames = []
    for symbol in sorted(symbols):
        paths = files.get(symbol, [])
        if not paths or not is_trading_day(symbol, session):
            continue
        if len(paths) > 1:
            raise SourceUnreadable(f"{' and '.join(map(str, paths))} all hold {symbol} on {session}; keep one")
        opens_at, closes_at = session_hours(symbol, session)
        bars = _read(paths[0])
        bars = bars[(bars["ts"] >= opens_at) & (bars["ts"] < closes_at)].sort_values("ts", kind="stable")
        frames.append(_intervals(bars, opens_at, interval_minutes, paths[0]).assign(symbol=symbol, session=session))
    if not frames:
        return pd.DataFrame({c: [] for c in INTRADAY_COLUMNS})
    frame = pd.concat(frames, ignore_index=True).assign(interval_s=60 * interval_minutes, source=source)
    return frame.loc[:, list(INTRADAY_COLUMNS)]


def _files(folder: Path, session: dt.date, symbol_of: Callable[[Path], str]) -> dict[str, list[Path]]:
    """symbol -> the files that may hold its bars of ``session`` (more than one: the request is refused)."""
    found: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.suffix.lower() in SUFFIXES:
            found.setdefault(symbol_of(entry), []).append(entry)
        elif entry.is_dir():
            for suffix in SUFFIXES:
                day = entry / f"{session.isoformat()}{suffix}"
                if day.is_file():
                    found.setdefault(symbol_of(entry), []).append(day)
    return found


def _read(path: Path) -> pd.DataFrame:
    """ts (UTC) and float values of every row; raises SourceUnreadable naming the first bad cell."""
    try:
        raw = (
            pd.read_parquet(path)
            if path.suffix.lower() == ".parquet"
            else pd.read_csv(path, dtype=str, na_filter=False)
        )
    except (OSError, ValueError) as exc:
        raise SourceUnreadable(f"{path}: cannot be read as {path.suffix[1:]}: {exc}") from None
    names = [str(c) for c in raw.columns]
    where = {normal_name(n): n for n in names}
    missing = [c for c in _VALUES if c not in where]
    if missing or not names:
        raise SourceUnreadable(f"{path}: no {', '.join(missing) or 'columns'} column (needs a timestamp and OHLCV)")
    at = date_column(names)
    out = {"ts": _column(raw[names[at if at is not None else 0]], path, _timestamps)}
    out |= {c: _column(raw[where[c]], path, _numbers) for c in _VALUES}
    return pd.DataFrame(out)


def _timestamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _numbers(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values).astype("float64")
    if numbers.isna().any():
        raise ValueError("an empty cell")
    return numbers


def _column(values: pd.Series, path: Path, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    try:
        return parse(values)
    except (ValueError, TypeError) as exc:
        for row, value in enumerate(values):  # the first cell that fails alone, for the message
            try:
                parse(pd.Series([value]))
            except (ValueError, TypeError):
                where = f"line {row + 2}" if path.suffix.lower() == ".csv" else f"row {row}"
                raise SourceUnreadable(f"{path}: {where}: {values.name} {value!r} is not readable") from None
        raise SourceUnreadable(f"{path}: column {values.name} is not readable: {exc}") from None  # mixed formats


def _intervals(bars: pd.DataFrame, opens_at: dt.datetime, interval_minutes: int, path: Path) -> pd.DataFrame:
    """The file's bars bucketed into N-minute intervals from the open."""
    interval = pd.Timedelta(minutes=interval_minutes)
    gaps = bars["ts"].diff().dropna()
    gaps = gaps[gaps > pd.Timedelta(0)]
    if not gaps.empty and interval % gaps.min() != pd.Timedelta(0):
        raise SourceUnreadable(f"{path}: bars {gaps.min()} apart cannot make {interval_minutes}-minute bars")
    bucket = (bars["ts"] - pd.Timestamp(opens_at)) // interval
    grouped = bars.groupby(bucket, sort=True)
    frame = grouped.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last"))
    frame["volume"] = grouped["volume"].sum()
    frame["ts"] = pd.Timestamp(opens_at) + frame.index.to_numpy() * interval
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    return frame.reset_index(drop=True)
