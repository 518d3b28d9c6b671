"""Read-through access to the latest bars: the hot cache first, the time-series store behind it.

Plain functions over the two interfaces, used by ``backbone bars``, the cache asset and its checks. A miss or an
unreachable cache never fails a read: the store answers. A miss repopulates the symbol, so once Redis is back the
next read (or one cache materialization) warms it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd

from backbone_domain import hot_bars
from backbone_domain.bars import VALUE_COLUMNS, empty_bars
from backbone_resources.cache.base import CacheUnavailable

if TYPE_CHECKING:
    from backbone_domain.changes import Changes
    from backbone_resources.cache.base import HotCache
    from backbone_resources.store.base import BarStore

_EARLIEST = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class Answer:
    """Bars (BAR_COLUMNS, oldest first), who served them, and why the store did when it did."""

    bars: pd.DataFrame
    served_by: Literal["cache", "store"]
    note: str = ""


@dataclass(frozen=True)
class RefreshReport:
    symbols: int
    rewritten_bars: int
    invalidated: int
    written: int
    corrected: int = 0  # cached bars replaced in place by their corrected version


def store_latest(store: BarStore, symbols: Sequence[str], n: int) -> pd.DataFrame:
    """Each symbol's newest ``n`` stored bars, ordered by symbol, ts: a window of dates, widened only if short."""
    newest = {s: d for s, d in store.latest_bar_dates().items() if s in set(symbols)}
    if not newest:
        return empty_bars()
    first, last = hot_bars.window_start(min(newest.values()), n), max(newest.values())
    bars = hot_bars.last_per_symbol(store.read_bars(first, last, sorted(newest)), n)
    counts = bars.groupby("symbol").size()
    short = [s for s in newest if counts.get(s, 0) < n]
    if short:  # gaps in a symbol's history: read the whole of it, only for those symbols
        rest = hot_bars.last_per_symbol(store.read_bars(_EARLIEST, last, short), n)
        bars = pd.concat([bars[~bars["symbol"].isin(short)], rest], ignore_index=True)
    return bars.sort_values(["symbol", "ts"], ignore_index=True)


def read_last(cache: HotCache, store: BarStore, symbol: str, n: int) -> Answer:
    """The symbol's newest ``n`` bars."""
    try:
        hit = cache.last_bars(symbol, n)
    except CacheUnavailable as exc:
        return Answer(store_latest(store, [symbol], n), "store", f"cache unavailable: {exc}")
    if hit is not None:
        return Answer(hit, "cache")
    fresh = store_latest(store, [symbol], max(n, cache.keep_bars))
    note = _repopulate(cache, fresh)
    return Answer(fresh.tail(n).reset_index(drop=True), "store", note)


def read_on(cache: HotCache, store: BarStore, symbol: str, day: dt.date) -> Answer:
    """The symbol's bar on ``day`` (an empty frame when there is none)."""
    try:
        hit = cache.bar_on(symbol, day)
    except CacheUnavailable as exc:
        return Answer(store.read_bars(day, day, [symbol]), "store", f"cache unavailable: {exc}")
    if hit is not None:
        return Answer(hit, "cache")
    fresh = store_latest(store, [symbol], cache.keep_bars)
    if fresh.empty or day < fresh["ts"].iloc[0].date():
        return Answer(store.read_bars(day, day, [symbol]), "store", "cache miss: older than the cached window")
    note = _repopulate(cache, fresh)
    return Answer(fresh[fresh["ts"].dt.date == day].reset_index(drop=True), "store", note)


def _repopulate(cache: HotCache, fresh: pd.DataFrame) -> str:
    if fresh.empty:
        return "cache miss: not in the store either"
    try:
        cache.replace_symbols(fresh)
    except CacheUnavailable as exc:
        return f"cache miss; not repopulated: {exc}"
    return "cache miss; repopulated"


def refresh(cache: HotCache, store: BarStore, start: dt.date, end: dt.date, chunk_days: int) -> RefreshReport:
    """Bring the cache up to date after partitions [start, end] were (re)written.

    First invalidate what was rewritten, so a refresh that fails half-way leaves holes (misses served by the
    store), never stale bars; then load each touched symbol's newest bars from the store. Reads the range in
    chunks so a long backfill holds one chunk of bars at a time.
    """
    spans: dict[str, tuple[dt.date, dt.date]] = {}
    rewritten = 0
    # Imported here: the pipeline module loads validation, hence pandera (and through it pyspark), which the read
    # path of `backbone bars` never needs.
    from backbone_domain.pipeline import date_chunks

    for lo, hi in date_chunks(start, end, chunk_days):
        chunk = store.read_bars(lo, hi)
        rewritten += len(chunk)
        spans = hot_bars.merge_spans(spans, hot_bars.symbol_spans(chunk))
    invalidated = cache.invalidate_spans(spans)
    written = cache.replace_symbols(store_latest(store, sorted(spans), cache.keep_bars)) if spans else 0
    return RefreshReport(symbols=len(spans), rewritten_bars=rewritten, invalidated=invalidated, written=written)


def apply_changes(cache: HotCache, store: BarStore, changes: Changes) -> RefreshReport:
    """Bring the cache up to date with the keys the store changed since the cache's last refresh.

    A correction touches its cached copy only: the cached bar of that symbol and date is replaced by the stored
    one (``replace_bars``; a date the cache does not hold is left alone) and a retired bar is dropped, so a
    handful of corrections costs a handful of writes, never a rewrite of the symbol. A symbol with a bar newer
    than its newest cached one (new days) is reloaded whole, as ``refresh`` does: its window of newest bars
    moved. So is every stored symbol the cache does not hold (Redis restarted empty, an entry expired or
    evicted): one materialization warms the cache again even when the store has not changed.
    """
    newest = {str(s): t.date() for s, t in zip(*_latest(cache), strict=True)}
    learned = changes.dates_learned()
    cold = set(store.latest_bar_dates()) - set(newest)
    reload = sorted(cold | {s for s, days in learned.items() if s not in newest or days[-1] > newest[s]})
    # Only dates inside a cached window can be held: older corrections cost no store read.
    in_window = [
        (s, d)
        for s, days in learned.items()
        if s not in reload
        for d in days
        if d >= hot_bars.window_start(newest[s], cache.keep_bars)
    ]
    corrected = cache.replace_bars(_stored_bars(store, in_window)) if in_window else 0
    gone = {s: d for s, d in changes.dates_retired().items() if s not in reload}
    invalidated = cache.invalidate(gone) if gone else 0
    written = cache.replace_symbols(store_latest(store, reload, cache.keep_bars)) if reload else 0
    return RefreshReport(
        symbols=len(set(learned) | set(gone) | cold),
        rewritten_bars=len(changes.keys),
        invalidated=invalidated,
        written=written,
        corrected=corrected,
    )


def _latest(cache: HotCache) -> tuple[list[str], list[pd.Timestamp]]:
    cached = cache.latest_cached()
    return list(cached["symbol"]), list(cached["ts"])


def _stored_bars(store: BarStore, keys: Sequence[tuple[str, dt.date]]) -> pd.DataFrame:
    """The stored bars of these (symbol, date) keys: one read over their symbols and span, then the keys."""
    wanted = {(s, d) for s, d in keys}
    bars = store.read_bars(min(d for _, d in keys), max(d for _, d in keys), sorted({s for s, _ in keys}))
    picked = [(s, t.date()) in wanted for s, t in zip(bars["symbol"], bars["ts"], strict=True)]
    return bars[picked].reset_index(drop=True)


def stale_symbols(cache: HotCache, store: BarStore) -> dict[str, str]:
    """Cached symbols whose newest cached bar differs from the store's newest bar, with what differs."""
    cached = cache.latest_cached()
    if cached.empty:
        return {}
    stored = store_latest(store, list(cached["symbol"]), 1).set_index("symbol")
    problems: dict[str, str] = {}
    for row in cached.itertuples(index=False):
        if row.symbol not in stored.index:
            problems[row.symbol] = "not in the store"
            continue
        ref = stored.loc[row.symbol]
        if ref["ts"] != row.ts:
            problems[row.symbol] = f"cached newest {row.ts.date()}, store newest {ref['ts'].date()}"
            continue
        differ = [c for c in VALUE_COLUMNS if not _same(getattr(row, c), ref[c])]
        if differ:
            problems[row.symbol] = f"{row.ts.date()}: {', '.join(differ)} differ"
    return problems


def _same(a: float, b: float) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b
