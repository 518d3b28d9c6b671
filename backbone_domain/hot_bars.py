"""Hot-cache encoding of a daily bar: one short text member per bar, keyed by its trading date.

Both cache backends hold a symbol's latest bars as ``(date ordinal, member)`` pairs: ordered by date, so "last n
bars" and "bar on date D" are index lookups, never scans. ``repr`` of a float round-trips exactly, so a bar read
back from the cache compares equal to the stored one. The text leads with the ISO date so members of different
dates never collide in a Redis sorted set.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from backbone_domain.bars import BAR_COLUMNS, VALUE_COLUMNS, empty_bars

SEP = "|"
# Calendar days that surely hold ``n`` trading days: five sessions a week, plus holidays and a margin.
_CALENDAR_PER_TRADING = 7 / 5


def encode(frame: pd.DataFrame) -> Iterator[tuple[str, int, str]]:
    """``(symbol, date ordinal, member)`` for each row of a BAR_COLUMNS frame.

    Column-wise (plain lists, one ``repr`` a value): a 500-symbol refresh encodes 130,000 bars.
    """
    codes, uniques = pd.factorize(frame["ts"])
    by_code = [(t.toordinal(), t.strftime("%Y-%m-%d")) for t in uniques]  # bars share few distinct dates
    ordinals, days = zip(*(by_code[c] for c in codes.tolist()), strict=True) if len(frame) else ((), ())
    ingested = _iso_text(frame["ingested_at"], "%Y-%m-%dT%H:%M:%S.%f")
    values = [[repr(v) if v == v else "" for v in frame[c].tolist()] for c in VALUE_COLUMNS]  # NaN != NaN
    sources = ["" if s is None else s for s in frame["source"].tolist()]
    rows = zip(frame["symbol"].tolist(), ordinals, days, *values, sources, ingested, strict=True)
    for symbol, ordinal, day, *rest in rows:
        yield symbol, ordinal, SEP.join((day, *rest))


def decode(symbol: str, members: Sequence[str | bytes]) -> pd.DataFrame:
    """A BAR_COLUMNS frame (``BAR_DTYPES``) of one symbol's members, in the order given; built column-wise."""
    if not members:
        return empty_bars()
    texts = [m.decode() if isinstance(m, bytes) else m for m in members]
    day, *values, source, ingested = zip(*(t.split(SEP) for t in texts), strict=True)
    data: dict[str, object] = {
        "symbol": pd.Series(np.full(len(texts), symbol, dtype=object), dtype=object),
        "ts": _utc_index(day),
        **{
            c: np.array([float(v) if v else math.nan for v in col])
            for c, col in zip(VALUE_COLUMNS, values, strict=True)
        },
        "source": pd.Series([s or None for s in source], dtype=object),
        "ingested_at": _utc_index([v or "NaT" for v in ingested]),
    }
    return pd.DataFrame(data, columns=list(BAR_COLUMNS))


def last_per_symbol(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """Each symbol's newest ``n`` rows, ordered by symbol, ts."""
    ordered = frame.sort_values(["symbol", "ts"], kind="stable")
    return ordered.groupby("symbol", sort=False).tail(n).reset_index(drop=True)


def window_start(newest: dt.date, n: int) -> dt.date:
    """A first calendar date whose range up to ``newest`` normally holds ``n`` trading days."""
    return newest - dt.timedelta(days=math.ceil(n * _CALENDAR_PER_TRADING) + 21)


def symbol_spans(frame: pd.DataFrame) -> dict[str, tuple[dt.date, dt.date]]:
    """Each symbol's first and last trading date in a BAR_COLUMNS frame: the span a partition (re)wrote."""
    days = frame.assign(day=frame["ts"].dt.date).groupby("symbol")["day"]
    return {str(s): (lo, hi) for s, lo, hi in zip(days.min().index, days.min(), days.max(), strict=True)}


def merge_spans(*spans: dict[str, tuple[dt.date, dt.date]]) -> dict[str, tuple[dt.date, dt.date]]:
    """The union of per-symbol spans (of consecutive chunks of one range) as one span per symbol."""
    merged: dict[str, tuple[dt.date, dt.date]] = {}
    for part in spans:
        for symbol, (lo, hi) in part.items():
            old = merged.get(symbol, (lo, hi))
            merged[symbol] = (min(old[0], lo), max(old[1], hi))
    return merged


def _iso_text(column: pd.Series, fmt: str) -> list[str]:
    """UTC text of a tz-aware column, NaT as ''; each distinct value formatted once (bars share few dates)."""
    codes, uniques = pd.factorize(column)
    texts = [t.tz_convert("UTC").strftime(fmt) for t in uniques]
    return ["" if c < 0 else texts[c] for c in codes.tolist()]


def _utc_index(text: Sequence[str]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.array(text, dtype="datetime64[us]")).tz_localize("UTC")
