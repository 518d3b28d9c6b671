"""Stored intraday bars, their aggregate to a daily bar, and the verdict of the check comparing the two.

One copy of the aggregation rule (first open, max high, min low, last close, summed volume: the rule the
synthetic source's minutes are built to satisfy, docs/streaming.md) serves both the provisional daily bar the
intraday handler puts in the hot cache and the ``daily_bars_match_intraday`` check; one copy of the verdict
serves the check and anything else that wants to judge a day (so they cannot drift). Plain pandas.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import pandas as pd
import pyarrow as pa

from backbone_domain.bars import INTRADAY_COLUMNS, PRICE_COLUMNS
from backbone_domain.intraday_messages import IntradayBar

# An intraday bar as stored: the source's columns plus its version (when it closed at its source).
STORED_INTRADAY_COLUMNS: Final = (*INTRADAY_COLUMNS, "ingested_at")
INTRADAY_KEY: Final = ("symbol", "ts", "interval_s")
# session as datetime.date objects, as the sources return it.
INTRADAY_DTYPES: Final = dict.fromkeys(STORED_INTRADAY_COLUMNS, "float64") | {
    "symbol": "object",
    "session": "object",
    "ts": "datetime64[us, UTC]",
    "interval_s": "int64",
    "source": "object",
    "ingested_at": "datetime64[us, UTC]",
}
_UTC = pa.timestamp("us", tz="UTC")
INTRADAY_ARROW_SCHEMA: Final = pa.schema(
    [
        ("symbol", pa.string()),
        ("session", pa.date32()),
        ("ts", _UTC),
        ("interval_s", pa.int64()),
        *((name, pa.float64()) for name in (*PRICE_COLUMNS, "volume")),
        ("source", pa.string()),
        ("ingested_at", _UTC),
    ]
)
# What the aggregate of one symbol's session holds, beside the daily values.
AGGREGATE_COLUMNS: Final = ("symbol", "session", *PRICE_COLUMNS, "volume", "bars", "through", "source")


def empty_intraday() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in INTRADAY_DTYPES.items()})


def intraday_frame(bars: Sequence[IntradayBar]) -> pd.DataFrame:
    """Bus events as the stored frame (``STORED_INTRADAY_COLUMNS``)."""
    if not bars:
        return empty_intraday()
    frame = pd.DataFrame([{c: getattr(bar, c) for c in STORED_INTRADAY_COLUMNS} for bar in bars])
    return typed_intraday(frame)


def typed_intraday(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``INTRADAY_DTYPES`` (timestamps as tz-aware UTC microseconds)."""
    out = frame.loc[:, list(STORED_INTRADAY_COLUMNS)].copy()
    for column in ("ts", "ingested_at"):
        out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[us, UTC]")
    return out.astype({c: t for c, t in INTRADAY_DTYPES.items() if c not in ("ts", "ingested_at")})


def intraday_table(bars: pd.DataFrame | pa.Table | Sequence[IntradayBar]) -> pa.Table:
    """The Arrow table a store writes (``INTRADAY_ARROW_SCHEMA``): one row a key, the newest ``ingested_at``
    winning (ties: the last row), because an upsert cannot touch one key twice in a statement. Bus events go
    straight to Arrow: the intraday handler writes one at a time, and a pandas frame would cost more than the
    write."""
    if isinstance(bars, pa.Table):
        return bars
    if not isinstance(bars, pd.DataFrame):
        rows = [{c: getattr(bar, c) for c in STORED_INTRADAY_COLUMNS} for bar in bars]
        if len(rows) == 1:
            return pa.Table.from_pylist(rows, schema=INTRADAY_ARROW_SCHEMA)
        bars = pd.DataFrame(rows, columns=list(STORED_INTRADAY_COLUMNS))
    newest = bars.sort_values("ingested_at", kind="stable").drop_duplicates(list(INTRADAY_KEY), keep="last")
    return pa.Table.from_pandas(typed_intraday(newest), schema=INTRADAY_ARROW_SCHEMA, preserve_index=False)


def aggregate(minutes: pd.DataFrame) -> pd.DataFrame:
    """Each (symbol, session)'s bars folded into one daily bar (``AGGREGATE_COLUMNS``), ordered by symbol,
    session: first open and last close by ``ts``, max high, min low, volume summed exactly (``math.fsum``, so
    the order of the bars never changes the last digit), ``bars`` counted, ``through`` the end of the last bar.
    """
    if minutes.empty:
        return pd.DataFrame({c: [] for c in AGGREGATE_COLUMNS})
    ordered = minutes.sort_values(["symbol", "session", "ts"], kind="stable")
    rows = []
    for (symbol, session), day in ordered.groupby(["symbol", "session"], sort=False):
        last = day.iloc[-1]
        rows.append(
            {
                "symbol": symbol,
                "session": session,
                "open": float(day["open"].iloc[0]),
                "high": float(day["high"].max()),
                "low": float(day["low"].min()),
                "close": float(last["close"]),
                "volume": math.fsum(day["volume"].tolist()),
                "bars": len(day),
                "through": (last["ts"] + pd.Timedelta(seconds=int(last["interval_s"]))).to_pydatetime(),
                "source": last["source"],
            }
        )
    return pd.DataFrame(rows, columns=list(AGGREGATE_COLUMNS))


@dataclass(frozen=True)
class IntradayVerdict:
    """The day's aggregated minutes against the stored daily bars: passed when every symbol with minutes has a
    daily bar equal to their aggregate (within ``tolerance``, relative)."""

    session: dt.date | None  # None: no session had both to compare
    compared: int
    mismatches: dict[str, str] = field(default_factory=dict)  # symbol -> what differs
    tolerance: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def description(self) -> str:
        if self.session is None:
            return "nothing to compare: no stored intraday bars of the newest stored daily session"
        if self.passed:
            return f"{self.session}: the minutes of {self.compared} symbols aggregate to their daily bars"
        return f"{self.session}: {len(self.mismatches)} of {self.compared} symbols differ: " + "; ".join(
            f"{s}: {why}" for s, why in sorted(self.mismatches.items())
        )


def verdict(
    session: dt.date | None, minutes: pd.DataFrame | None, daily: pd.DataFrame | None, tolerance: float = 0.0
) -> IntradayVerdict:
    """Compare ``session``'s stored minutes (``STORED_INTRADAY_COLUMNS``) with its stored daily bars
    (BAR_COLUMNS). A symbol with minutes but no daily bar is a mismatch; a symbol with a daily bar and no
    minutes is not (intraday bars may cover part of the universe)."""
    if session is None or minutes is None or daily is None:
        return IntradayVerdict(None, 0, tolerance=tolerance)
    day_minutes = minutes[minutes["session"] == session]
    finals = {row.symbol: row for row in daily[daily["ts"].dt.date == session].itertuples(index=False)}
    mismatches: dict[str, str] = {}
    folded = aggregate(day_minutes)
    for agg in folded.itertuples(index=False):
        final = finals.get(agg.symbol)
        if final is None:
            mismatches[agg.symbol] = f"{agg.bars} intraday bars, no daily bar"
            continue
        differ = [
            f"{c} {getattr(agg, c)!r} vs {getattr(final, c)!r}"
            for c in (*PRICE_COLUMNS, "volume")
            if not _close(getattr(agg, c), getattr(final, c), tolerance)
        ]
        if differ:
            mismatches[agg.symbol] = f"aggregate vs daily: {', '.join(differ)}"
    return IntradayVerdict(session, len(folded), mismatches, tolerance)


def _close(a: float, b: float, tolerance: float) -> bool:
    return a == b or (tolerance > 0 and math.isclose(a, b, rel_tol=tolerance))
