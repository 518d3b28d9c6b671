"""The provisional daily bar of a session still under way: its minutes so far, folded (``intraday_bars.aggregate``).

The intraday handler puts one per symbol in the hot cache, beside (never among) the final daily bars; readers
show it marked provisional, and only while no final daily bar of its session or later is there: once the
end-of-day bar is stored and cached, the provisional one is ignored (``shown``), whatever is left of it expires.
The cache holds it as one short text (``encode``), led by the session's ISO date so backends can keep the
newer session by comparing text.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, replace

import pandas as pd

from backbone_domain.intraday_bars import aggregate
from backbone_domain.intraday_messages import IntradayBar


@dataclass(frozen=True)
class ProvisionalBar:
    """A session's minutes so far as one daily bar: ``bars`` of them, up to ``through`` (UTC)."""

    symbol: str
    session: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float
    bars: int
    through: dt.datetime
    source: str


def from_minutes(minutes: pd.DataFrame) -> list[ProvisionalBar]:
    """One provisional bar per (symbol, session) of stored intraday bars."""
    return [
        ProvisionalBar(
            symbol=row.symbol,
            session=row.session,
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=row.volume,
            bars=int(row.bars),
            through=row.through.astimezone(dt.UTC),
            source=row.source,
        )
        for row in aggregate(minutes).itertuples(index=False)
    ]


def fold(held: ProvisionalBar | None, bar: IntradayBar) -> ProvisionalBar | None:
    """``held`` with ``bar`` folded in when ``bar`` is the next bar of ``held``'s session (one symbol's bars arrive
    in time order); None when only the stored minutes can say: no held bar of this session yet, or ``bar`` falls
    inside what ``held`` already counts (a redelivered copy, which the caller skips when the store took nothing
    new, or a correction)."""
    if held is None or held.session != bar.session or held.symbol != bar.symbol or bar.ts < held.through:
        return None
    return replace(
        held,
        high=max(held.high, bar.high),
        low=min(held.low, bar.low),
        close=bar.close,
        volume=held.volume + bar.volume,
        bars=held.bars + 1,
        through=(bar.ts + dt.timedelta(seconds=bar.interval_s)).astimezone(dt.UTC),
        source=bar.source,
    )


def shown(bar: ProvisionalBar | None, newest_final: dt.date | None) -> ProvisionalBar | None:
    """The provisional bar a reader shows beside final bars whose newest is dated ``newest_final``: none once a
    final bar of its session (or a later one) is there. The one rule every reader applies."""
    if bar is None or (newest_final is not None and bar.session <= newest_final):
        return None
    return bar


def encode(bar: ProvisionalBar) -> str:
    """``YYYY-MM-DD|{json}``: the session first, so the text of a newer session sorts after an older one."""
    doc = asdict(bar) | {"session": bar.session.isoformat(), "through": bar.through.isoformat()}
    return f"{bar.session.isoformat()}|{json.dumps(doc, separators=(',', ':'))}"


def decode(text: str | bytes) -> ProvisionalBar:
    raw = text.decode() if isinstance(text, bytes) else text
    doc = json.loads(raw.split("|", 1)[1])
    doc["session"] = dt.date.fromisoformat(doc["session"])
    doc["through"] = dt.datetime.fromisoformat(doc["through"])
    return ProvisionalBar(**doc)


def newer_or_same(old: str | bytes | None, new: str) -> bool:
    """Whether ``new`` may replace the cached ``old``: a session is never replaced by an older one's bar (a
    replay of a past session must not hide today's)."""
    if old is None:
        return True
    previous = old.decode() if isinstance(old, bytes) else old
    return previous[:10] <= new[:10]
