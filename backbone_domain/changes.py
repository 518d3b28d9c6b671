"""What a run changed in the store, at the grain each layer downstream of it works in.

A layer that is not partitioned by day (the weekly aggregate, the hot cache, the topic, the Parquet exports)
used to redo every day of its run's range: a correction of five bars re-published a month of messages and
rewrote every year partition the month touched. Each such layer now keeps a watermark (``Changes.through``, in
its materialization metadata) and asks the store for the keys changed since it
(``BarStore.keys_changed_since``): a new bar or a correction (its current version was learned after the
watermark) or a retirement. A re-run that changes nothing in the store changes no key, so it touches nothing
downstream. The first run of a layer (no watermark yet) works on its run's whole date range, as before.

Plain functions over a frame of changed keys (``CHANGED_KEY_DTYPES``): which (symbol, date)s, which (symbol,
year) partitions, which ISO weeks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import pandas as pd

from backbone_domain.returns import VOL_WINDOW

# Returns of a year's first bars look back VOL_WINDOW + 1 bars into the previous year: a correction dated
# this close to a year's end changes the next year's returns too (VOL_WINDOW + 1 trading days, with weekends and
# holidays, fit in 45 calendar days while the window is 20).
_RETURNS_REACH = dt.timedelta(days=45 * VOL_WINDOW // 20)


# What ``BarStore.keys_changed_since`` returns: a key, when its stored state last changed, whether it is gone.
CHANGED_KEY_DTYPES: Final = {
    "symbol": "object",
    "ts": "datetime64[us, UTC]",
    "changed_at": "datetime64[us, UTC]",
    "retired": "bool",
}


def no_keys() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in CHANGED_KEY_DTYPES.items()})


@dataclass(frozen=True)
class Changes:
    """The keys a layer brings up to date in one run.

    ``since`` is the watermark the run started from (None on the layer's first run: every bar of the run's
    range counts as changed, and ``keys`` is not read); ``through`` is the one the next run starts from: the
    newest ``changed_at`` seen, or ``since`` when nothing changed.
    """

    since: dt.datetime | None
    through: dt.datetime
    keys: pd.DataFrame  # CHANGED_KEY_DTYPES; empty on a first run
    store: str = ""  # which store the watermarks belong to (backbone_assets.changes.store_identity)

    @property
    def first_run(self) -> bool:
        return self.since is None

    @property
    def learned(self) -> pd.DataFrame:
        """The keys whose current version is new since the watermark (new bars and corrections)."""
        return self.keys[~self.keys["retired"]]

    @property
    def retired(self) -> pd.DataFrame:
        return self.keys[self.keys["retired"]]

    def dates_learned(self) -> dict[str, list[dt.date]]:
        return dates_by_symbol(self.learned)

    def dates_retired(self) -> dict[str, list[dt.date]]:
        return dates_by_symbol(self.retired)

    def span(self) -> tuple[dt.date, dt.date] | None:
        """The first and last trading date changed (None when nothing changed)."""
        if self.keys.empty:
            return None
        return self.keys["ts"].min().date(), self.keys["ts"].max().date()


def since_watermark(keys: pd.DataFrame, since: dt.datetime, store: str = "") -> Changes:
    """The changes after ``since``, given the keys the store returned for it."""
    newest = keys["changed_at"].max() if len(keys) else None
    through = since if newest is None else max(since, newest.to_pydatetime())
    return Changes(since, through, keys, store)


def first_run(now: dt.datetime, store: str = "") -> Changes:
    """A layer's first run: its whole range, and ``now`` (taken before reading the store) as the next watermark."""
    return Changes(None, now, no_keys(), store)


def dates_by_symbol(keys: pd.DataFrame) -> dict[str, list[dt.date]]:
    """Each symbol's changed trading dates, in order."""
    days = keys.assign(day=keys["ts"].dt.date)
    return {str(s): sorted(group["day"]) for s, group in days.groupby("symbol", sort=True)}


def symbol_years(keys: pd.DataFrame) -> dict[int, list[str]]:
    """The (symbol, year) partitions the keys fall in, as the symbols of each year (both in order)."""
    pairs = keys.assign(year=keys["ts"].dt.year)[["year", "symbol"]].drop_duplicates()
    return {int(y): sorted(group["symbol"]) for y, group in pairs.groupby("year", sort=True)}


def returns_years(keys: pd.DataFrame) -> dict[int, list[str]]:
    """The (symbol, year) partitions of daily_returns the keys change: their own year, and the next one for a
    bar close enough to the year's end to be in the next year's first windows."""
    days = keys["ts"].dt.tz_convert("UTC")
    own = pd.DataFrame({"year": days.dt.year, "symbol": keys["symbol"]})
    late = (days + pd.Timedelta(_RETURNS_REACH)).dt.year > days.dt.year
    following = own[late].assign(year=lambda frame: frame["year"] + 1)  # a filtered frame, never re-aligned
    pairs = pd.concat([own, following])[["year", "symbol"]].drop_duplicates()
    return {int(y): sorted(group["symbol"]) for y, group in pairs.groupby("year", sort=True)}


def week_spans(keys: pd.DataFrame) -> list[tuple[dt.date, dt.date]]:
    """The ISO weeks (Monday..Sunday) holding the keys, consecutive weeks merged into one span, in order."""
    mondays = sorted({d - dt.timedelta(days=d.weekday()) for d in keys["ts"].dt.date})
    spans: list[tuple[dt.date, dt.date]] = []
    for monday in mondays:
        sunday = monday + dt.timedelta(days=6)
        if spans and spans[-1][1] + dt.timedelta(days=1) == monday:
            spans[-1] = (spans[-1][0], sunday)
        else:
            spans.append((monday, sunday))
    return spans
