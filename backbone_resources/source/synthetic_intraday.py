"""Synthetic minute bars built from the synthetic daily bar, so that they aggregate to it exactly.

A session's minutes are drawn *from* its daily bar, not the other way round: the price path starts at the daily
open, ends at the daily close and passes through the daily high and low, every other price is a whole number of
ticks clipped into [low, high], and the four daily values are placed as the very same floats. So first open,
max high, min low and last close equal the daily bar bit for bit, whatever rounding the path went through.
Volumes are integers split from the daily volume by largest remainder, so they sum to it exactly (integer
sums below 2**53 are exact in float64).

The path is a Brownian bridge between those anchors (the high and the low at random minutes, in random order),
scaled to the day's range; each minute's high and low widen its open/close by a small wick, clipped to the
day's range. Volume follows the usual U shape (busy open and close) with noise. Randomness comes from numpy's
PCG64 seeded by (seed, symbol, session): one session's minutes never depend on which other sessions or symbols
were asked for. N-minute bars are aggregates of the 1-minute bars, so every interval setting tells one story.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np

_WICK = 0.3  # a minute's wick, as a fraction of one step of the path's noise


def session_minutes(
    seed: int, symbol: str, session: dt.date, daily: dict[str, float], scale: float, minutes: int
) -> dict[str, np.ndarray]:
    """``minutes`` one-minute bars (open, high, low, close, volume arrays) aggregating exactly to ``daily``.

    ``daily`` holds the day's open, high, low, close and volume (a whole number); ``scale`` is 10 ** decimals of
    the symbol's tick.
    """
    o, h, lo, c = (daily[k] for k in ("open", "high", "low", "close"))
    rng = np.random.default_rng(_entropy(seed, symbol, session))
    path, sigma = _path(o, h, lo, c, minutes, scale, rng)
    opens, closes = path[:-1], path[1:]
    wick_up, wick_down = (np.rint(np.abs(rng.standard_normal(minutes)) * _WICK * sigma * scale) for _ in range(2))
    top, bottom = np.maximum(opens, closes), np.minimum(opens, closes)
    highs = np.clip((np.rint(top * scale) + wick_up) / scale, top, h)
    lows = np.clip((np.rint(bottom * scale) - wick_down) / scale, lo, bottom)
    if minutes < 3:  # too short to route the path through both extremes: a wick reaches them
        highs[rng.integers(minutes)] = h
        lows[rng.integers(minutes)] = lo
    return {
        "open": opens,
        "high": highs,
        "low": lows,
        "close": closes,
        "volume": _volumes(daily["volume"], minutes, rng),
    }


def _entropy(seed: int, symbol: str, session: dt.date) -> int:
    digest = hashlib.blake2b(f"{seed}|{symbol}|{session.isoformat()}|intraday".encode(), digest_size=16).digest()
    return int.from_bytes(digest, "little")


def _path(
    o: float, h: float, lo: float, c: float, minutes: int, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Prices at the minute boundaries 0..minutes (open of the first, then each minute's close), and the noise
    of one step."""
    steps = np.arange(minutes + 1)
    if minutes >= 3:
        first, second = np.sort(rng.choice(np.arange(1, minutes), size=2, replace=False))
        extremes = (h, lo) if rng.random() < 0.5 else (lo, h)
        anchors, values = np.array([0, first, second, minutes]), np.array([o, *extremes, c])
    else:
        anchors, values = np.array([0, minutes]), np.array([o, c])
    walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(minutes))])
    sigma = (h - lo) / (2 * math.sqrt(minutes))
    # the walk minus its straight line between anchors is zero at every anchor: a bridge through them
    bridge = np.interp(steps, anchors, values) + sigma * (walk - np.interp(steps, anchors, walk[anchors]))
    path = np.clip(np.rint(bridge * scale) / scale, lo, h)
    path[anchors] = values  # the daily values themselves, not a rounding of them
    return path, sigma


def _volumes(total: float, minutes: int, rng: np.random.Generator) -> np.ndarray:
    """Whole-number volumes, U-shaped over the session, summing exactly to ``total`` (largest remainder)."""
    x = (np.arange(minutes) + 0.5) / minutes
    weights = (1 + 3 * (2 * x - 1) ** 2) * np.exp(0.4 * rng.standard_normal(minutes))
    share = int(total) * weights / weights.sum()
    whole = np.floor(share).astype(np.int64)
    short = int(total) - int(whole.sum())  # 0 <= short < minutes: the floors lost less than one each
    whole[np.argsort(whole - share, kind="stable")[:short]] += 1
    return whole.astype(np.float64)


def aggregate(bars: dict[str, np.ndarray], interval_minutes: int) -> dict[str, np.ndarray]:
    """N-minute bars of consecutive 1-minute bars from the first: first open, max high, min low, last close,
    summed volume; the last interval takes whatever minutes are left."""
    if interval_minutes == 1:
        return bars
    starts = np.arange(0, bars["open"].size, interval_minutes)
    ends = np.append(starts[1:], bars["open"].size) - 1
    return {
        "open": bars["open"][starts],
        "high": np.maximum.reduceat(bars["high"], starts),
        "low": np.minimum.reduceat(bars["low"], starts),
        "close": bars["close"][ends],
        "volume": np.add.reduceat(bars["volume"], starts),
    }
