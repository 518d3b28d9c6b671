"""A seeded, offline source of plausible daily bars: the default, so backbone runs without network or files.

The price model is a closed-form function of the calendar day, so a bar never depends on which range was
asked for: one fetch over a decade equals the concatenation of its monthly fetches, bit for bit, and a chunk
costs the same whatever its date. For symbol ``s`` and day number ``n`` (days since 1970-01-01)::

    log P(n) = log L_s + sum_k a_k * sin(2 pi (f_k * n + phi_k) / 2**32) + w_s * X(n)
    X(n)     = (e(n-31) + ... + e(n)) / (std(e) * sqrt(32))

- ``L_s`` is the symbol's level (EURUSD ~1.1, USDJPY ~140, AAPL ~150; made-up symbols draw one from their
  hash); the four sinusoids (periods ~10 years down to ~2 months, symbol-derived phases) give trends and
  cycles that stay bounded, so prices stay positive and realistic for any horizon.
- ``e(n)`` is counter-based noise: a SplitMix64 hash of (seed, symbol, n), summed from four 16-bit lanes into
  an integer with a near-normal shape. ``X`` is a 32-day moving sum of it, a random walk over a month that
  forgets older shocks. The sum is taken in int64 and the sines come from a fixed table indexed by an
  integer phase, so no float rounding depends on the chunk; the one transcendental left (exp) is
  elementwise and its result is rounded to the tick.
- Close is ``P(n)``; open is ``P(n-1)`` times a small gap; high/low widen max/min(open, close) by a random
  fraction of the daily volatility; prices are rounded to the symbol's tick (0.01, or pips for FX), then
  high/low are re-clamped so low <= open, close <= high and low >= one tick. Volume is a positive integer
  around the symbol's typical volume (tick counts for FX, where Yahoo reports zeros that carry nothing).
- Bars exist only on the symbol's trading days (``backbone_domain.calendars``); adj_close equals close.

Everything is vectorized over (symbols x days) with numpy; memory is proportional to one request and the
only caches are bounded (the last few requests' symbol parameters, and a 32 KiB sine table).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd

from backbone_domain.bars import INTRADAY_COLUMNS, RAW_COLUMNS, SYMBOL_PATTERN, VALUE_COLUMNS, empty_raw
from backbone_domain.calendars import CalendarKind, calendar_kind, session_hours, session_numbers
from backbone_resources.source import synthetic_intraday
from backbone_resources.source.base import BarSource

DEFAULT_UNIVERSE: Final = ("EURUSD", "GBPUSD", "USDJPY", "AAPL", "MSFT", "SPY")

# symbol -> (level, decimals, daily volatility, typical volume)
KNOWN_SYMBOLS: Final = {
    "EURUSD": (1.10, 5, 0.005, 180_000),
    "GBPUSD": (1.27, 5, 0.006, 150_000),
    "USDJPY": (140.0, 3, 0.006, 160_000),
    "AAPL": (150.0, 2, 0.018, 60_000_000),
    "MSFT": (300.0, 2, 0.016, 25_000_000),
    "SPY": (450.0, 2, 0.011, 70_000_000),
}
WINDOW: Final = 32  # days of noise the random-walk part remembers
_BLOCK_ELEMENTS: Final = 8192  # (symbols x days) cells computed at once
# Sinusoid phases are 32-bit fixed-point fractions of a cycle (exact integer arithmetic); their top bits index
# a 4096-entry sine table that stays in L1 cache (steps of 2*pi/4096 are far below the daily noise).
_PHASE_BITS: Final = 32
_TABLE_BITS: Final = 12
_TABLE_MASK: Final = (1 << _TABLE_BITS) - 1
_SIN_TABLE: Final = np.sin(2 * np.pi * np.arange(1 << _TABLE_BITS) / (1 << _TABLE_BITS))
_PERIODS: Final = (3650.0, 1000.0, 250.0, 60.0)  # days, before a +-20 % symbol-specific stretch
_AMPLITUDES: Final = (0.35, 0.15, 0.08, 0.04)  # log-price, for an 1.8 % daily-volatility equity
_LANE: Final = np.uint64(0xFFFF)
_E_STD: Final = float(np.sqrt(4 * ((1 << 32) - 1) / 12))  # std of a sum of four uniform 16-bit lanes
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_M1: Final = np.uint64(0xBF58476D1CE4E5B9)
_M2: Final = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class _Group:
    """Parameters of symbols sharing a calendar, as (symbols, 1) or (symbols, k) arrays."""

    rows: np.ndarray  # positions of these symbols in the sorted request
    keys: np.ndarray  # (n, 3) uint64 hash keys of the three noise streams: walk, gap, range/volume
    log_level: np.ndarray
    scale: np.ndarray  # 10 ** decimals: prices are whole multiples of 1 / scale
    vol: np.ndarray
    volume: np.ndarray
    freqs: np.ndarray  # (n, k) int64 cycles per day, fixed point
    phases: np.ndarray  # (n, k) int64 phase at day 0, fixed point

    def take(self, rows: slice) -> _Group:
        return _Group(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def _params(seed: int, symbol: str) -> tuple[int, int, int, float, int, float, float, list[int], list[int]]:
    """One symbol's keys, level, tick scale, volatility, volume and sinusoids, drawn from its hash."""
    digest = hashlib.blake2b(f"{seed}|{symbol}".encode(), digest_size=64).digest()
    words = [int.from_bytes(digest[i : i + 8], "little") for i in range(0, 64, 8)]
    unit = [w / 2.0**64 for w in words]
    if symbol in KNOWN_SYMBOLS:
        level, decimals, vol, volume = KNOWN_SYMBOLS[symbol]
    elif calendar_kind(symbol) == "fx":
        jpy = "JPY" in symbol[3:6]
        level = (100.0 if jpy else 1.0) * 2 ** (2 * unit[3] - 1)
        decimals, vol, volume = (3 if jpy else 5), 0.006, 100_000 + 100_000 * unit[4]
    else:
        level = 10 * 40 ** unit[3]  # log-uniform 10..400
        decimals, vol, volume = 2, 0.012 + 0.018 * unit[4], 2e5 * 100 ** unit[5]
    stretch = [0.8 + 0.4 * ((words[6] >> (16 * k)) & 0xFFFF) / 0xFFFF for k in range(len(_PERIODS))]
    freqs = [round((1 << _PHASE_BITS) / (p * s)) for p, s in zip(_PERIODS, stretch, strict=True)]
    phases = [(words[7] >> (16 * k)) << (_PHASE_BITS - 16) & ((1 << _PHASE_BITS) - 1) for k in range(len(_PERIODS))]
    return (*words[:3], math.log(level), 10**decimals, vol, float(volume), freqs, phases)


@lru_cache(maxsize=8)
def _groups(seed: int, symbols: tuple[str, ...]) -> dict[CalendarKind, _Group]:
    """The request's symbols split by calendar kind; cached (bounded) because chunked backfills repeat it."""
    members: dict[CalendarKind, list[int]] = {}
    for row, symbol in enumerate(symbols):
        members.setdefault(calendar_kind(symbol), []).append(row)
    groups = {}
    for kind, rows in members.items():
        k0, k1, k2, level, scale, vol, volume, freqs, phases = zip(
            *(_params(seed, symbols[r]) for r in rows), strict=True
        )
        column = np.array  # every per-symbol scalar becomes an (n, 1) column that broadcasts over days
        groups[kind] = _Group(
            rows=np.array(rows, dtype=np.int64),
            keys=np.array([k0, k1, k2], dtype=np.uint64).T.copy(),
            log_level=column(level)[:, None],
            scale=column(scale, dtype=np.float64)[:, None],
            vol=column(vol)[:, None],
            volume=column(volume)[:, None],
            freqs=np.array(freqs, dtype=np.int64),
            phases=np.array(phases, dtype=np.int64),
        )
    return groups


def _hash(keys: np.ndarray, days: np.ndarray) -> np.ndarray:
    """SplitMix64 of (key, day) for every pair: shape (len(keys), len(days)), uint64."""
    x = keys[:, None] + days.astype(np.uint64)[None, :] * _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _lanes(h: np.ndarray, *which: int) -> list[np.ndarray]:
    """The 16-bit lanes of a hash as int64 (lane 0 is the lowest)."""
    return [((h >> np.uint64(16 * k)) & _LANE).astype(np.int64) for k in which]


def _near_normal(h: np.ndarray) -> np.ndarray:
    """Centered int64 sum of the four 16-bit lanes: exact, near-normal, std ``_E_STD``."""
    a, b, c, d = _lanes(h, 0, 1, 2, 3)
    return a + b + c + d - 2 * 0xFFFF


def _trend(g: _Group, days: np.ndarray) -> np.ndarray:
    """The deterministic part of log P for every (symbol, day): level plus sinusoids, in a fixed order."""
    value = np.repeat(g.log_level, days.size, axis=1)
    for k, amp in enumerate(_AMPLITUDES):
        phase = days[None, :] * g.freqs[:, k : k + 1] + g.phases[:, k : k + 1]
        value += (amp / 0.018) * g.vol * _SIN_TABLE[(phase >> (_PHASE_BITS - _TABLE_BITS)) & _TABLE_MASK]
    return value


def _bars(g: _Group, days: np.ndarray) -> dict[str, np.ndarray]:
    """OHLCV arrays of shape (symbols, days) for the given session day numbers (ascending, non-empty)."""
    first = int(days[0]) - WINDOW  # the walk at days[0] - 1 needs noise back to here
    span = np.arange(first, int(days[-1]) + 1, dtype=np.int64)
    csum = np.zeros((g.rows.size, span.size + 1), dtype=np.int64)
    np.cumsum(_near_normal(_hash(g.keys[:, 0], span)), axis=1, out=csum[:, 1:])
    end = days - first + 1  # csum index one past the day
    trend = _trend(g, span[WINDOW - 1 :])  # every calendar day from days[0] - 1: sessions and the day before
    today, before = trend[:, days - first - WINDOW + 1], trend[:, days - first - WINDOW]
    # a 32-day sum changes daily by sqrt(2/32) = 1/4 of its own std, so 4 * vol makes close-to-close ~vol
    walk = 4 * g.vol / (_E_STD * np.sqrt(WINDOW))
    close = np.exp(today + walk * (csum[:, end] - csum[:, end - WINDOW]))
    gap = (0.3 * g.vol / _E_STD) * _near_normal(_hash(g.keys[:, 1], days))
    open_ = np.exp(before + walk * (csum[:, end - 1] - csum[:, end - 1 - WINDOW]) + gap)
    up, down, v1, v2 = _lanes(_hash(g.keys[:, 2], days), 0, 1, 2, 3)
    high = np.maximum(open_, close) * (1 + (1.2 * g.vol / 0xFFFF) * up)
    low = np.minimum(open_, close) * (1 - (1.2 * g.vol / 0xFFFF) * down)

    o, c, h, lo = (np.maximum(np.rint(x * g.scale), 1.0) for x in (open_, close, high, low))
    h = np.maximum(h, np.maximum(o, c))
    lo = np.minimum(lo, np.minimum(o, c))
    close_price = c / g.scale
    return {
        "open": o / g.scale,
        "high": h / g.scale,
        "low": lo / g.scale,
        "close": close_price,
        "adj_close": close_price,
        "volume": np.floor(g.volume * (0.25 + (0.75 / 0xFFFF) * (v1 + v2))),
    }


class SyntheticSource(BarSource):
    """Deterministic synthetic bars for any symbol; ``symbols`` empty = the default universe."""

    seed: int = 42
    symbols: list[str] = []

    @property
    def name(self) -> str:
        return "synthetic"

    def universe(self) -> list[str]:
        return [s.upper() for s in self.symbols] if self.symbols else list(DEFAULT_UNIVERSE)

    def fetch(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        wanted = _request(tuple(self.universe() if symbols is None else symbols))
        if not wanted or end < start:
            return _empty()
        groups = _groups(self.seed, wanted)
        sessions = {kind: session_numbers(wanted[int(g.rows[0])], start, end) for kind, g in groups.items()}
        counts = np.zeros(len(wanted), dtype=np.int64)
        for kind, g in groups.items():
            counts[g.rows] = sessions[kind].size
        total = int(counts.sum())
        if total == 0:
            return _empty()
        offsets = np.cumsum(counts) - counts  # first row of each symbol in the (symbol, ts) order

        values = {c: np.empty(total) for c in VALUE_COLUMNS}
        day_numbers = np.empty(total, dtype=np.int64)
        for kind, g in groups.items():
            days = sessions[kind]
            if days.size == 0:
                continue
            # Blocks of symbols keep every temporary under ~64 KiB: larger ones are mmapped and page-faulted
            # afresh on each allocation, which costs more than the arithmetic itself.
            step = max(1, _BLOCK_ELEMENTS // int(days[-1] - days[0] + WINDOW + 2))
            for lo in range(0, g.rows.size, step):
                block = g.take(slice(lo, lo + step))
                rows = (offsets[block.rows][:, None] + np.arange(days.size)[None, :]).ravel()
                for column, array in _bars(block, days).items():
                    values[column][rows] = array.ravel()
                day_numbers[rows] = np.tile(days, block.rows.size)

        first = int(day_numbers.min())
        span = np.arange(first, int(day_numbers.max()) + 1).astype("datetime64[D]")
        columns = {
            "symbol": _objects(np.repeat(np.array(wanted, dtype=object), counts)),
            "ts": pd.DatetimeIndex(day_numbers.astype("datetime64[D]").astype("datetime64[us]"), tz="UTC"),
            **values,
            "source": _objects(np.repeat(np.array([self.name], dtype=object), total)),
            # one date object per distinct day, shared by its rows
            "partition_date": _objects(span.astype(object)[day_numbers - first]),
            "payload": _objects(np.full(total, None, dtype=object)),
        }
        return pd.DataFrame({c: columns[c] for c in RAW_COLUMNS}, copy=False)

    def fetch_intraday(
        self, session: dt.date, symbols: Sequence[str] | None = None, interval_minutes: int = 1
    ) -> pd.DataFrame:
        """Minute bars drawn from each symbol's daily bar of ``session`` (``synthetic_intraday``), aggregated to
        ``interval_minutes``; they aggregate back to that daily bar exactly."""
        daily = self.fetch(session, session, symbols)
        frames = []
        for row in daily.to_dict("records"):
            symbol = row["symbol"]
            opens_at, closes_at = session_hours(symbol, session)
            minutes = int((closes_at - opens_at).total_seconds()) // 60
            scale = float(_params(self.seed, symbol)[4])
            bars = synthetic_intraday.session_minutes(self.seed, symbol, session, row, scale, minutes)
            bars = synthetic_intraday.aggregate(bars, interval_minutes)
            starts = pd.date_range(opens_at, periods=bars["open"].size, freq=f"{interval_minutes}min", unit="us")
            frames.append(
                pd.DataFrame(
                    {"symbol": symbol, "session": session, "ts": starts, "interval_s": 60 * interval_minutes}
                    | bars
                    | {"source": self.name}
                )
            )
        if not frames:
            return pd.DataFrame({c: [] for c in INTRADAY_COLUMNS})
        return pd.concat(frames, ignore_index=True).loc[:, list(INTRADAY_COLUMNS)]


@lru_cache(maxsize=8)
def _request(symbols: tuple[str, ...]) -> tuple[str, ...]:
    """The asked symbols upper-cased, deduplicated and sorted; cached because chunked backfills repeat it."""
    wanted = tuple(sorted({s.upper() for s in symbols}))
    bad = [s for s in wanted if not SYMBOL_PATTERN.match(s)]
    if bad:
        raise ValueError(f"not a symbol: {', '.join(bad)}")
    return wanted


def _empty() -> pd.DataFrame:
    """``empty_raw`` with float value columns, so concatenating it with full chunks keeps them float."""
    return empty_raw().astype(dict.fromkeys(VALUE_COLUMNS, "float64"))


def _objects(values: np.ndarray) -> pd.Series:
    """An object column, as in ``empty_raw``: pandas 3 would otherwise infer its ``str`` dtype and copy."""
    return pd.Series(values, dtype=object, copy=False)
