"""The cache seam: a hot copy of each symbol's latest daily bars, in front of the time-series store.

Two backends implement it (``redis_cache`` for institutional, ``disk_cache`` for bootstrap) and pass the same
contract tests (``backbone_tests/resources/cache/test_contract.py``). Assets, checks, the reader and the CLI see
only this interface. Everything the cache holds can be rebuilt from the store: losing it costs speed, not data.

Policy (``docs/cache.md``): per symbol at most ``keep_bars`` newest bars; each symbol's entry expires
``ttl_seconds`` after its last write; at most ``max_symbols`` symbols, least recently used (read or written)
evicted first. Hit and miss counters live in the cache itself, so every process adds to and sees the same figures.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field


class CacheUnavailable(RuntimeError):
    """The cache cannot be reached; the message names the setting to look at (never a secret)."""


@dataclass(frozen=True)
class CacheStats:
    """Counters since the namespace was created, and its current size."""

    backend: str
    namespace: str
    hits: int
    misses: int
    keys: int
    memory_bytes: int

    @property
    def hit_ratio(self) -> float | None:
        reads = self.hits + self.misses
        return self.hits / reads if reads else None


@dataclass(frozen=True)
class CacheWindow:
    """Hits and misses since the previous ``take_window`` call."""

    hits: int
    misses: int

    @property
    def reads(self) -> int:
        return self.hits + self.misses


class HotCache(ConfigurableResource, ABC):
    """Latest bars per symbol (BAR_COLUMNS frames, ``ts`` tz-aware UTC midnight of the trading date)."""

    namespace: str = Field("backbone", description="BACKBONE_CACHE_NAMESPACE: prefix of every key")
    keep_bars: int = Field(260, description="BACKBONE_CACHE_BARS: newest bars kept per symbol")
    ttl_seconds: int = Field(7 * 86_400, description="BACKBONE_CACHE_TTL_S: life of a symbol after its last write")
    max_symbols: int = Field(5_000, description="BACKBONE_CACHE_MAX_SYMBOLS: LRU cap on cached symbols")
    hit_ratio_warn: float = Field(0.8, description="BACKBONE_CACHE_HIT_RATIO_WARN: the check warns below it")
    min_reads: int = Field(20, description="BACKBONE_CACHE_MIN_READS: reads a check window needs to be judged")

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend, endpoint without secrets, namespace and policy, for metadata and ``backbone doctor``."""

    @abstractmethod
    def ping(self) -> float:
        """Round-trip time in milliseconds; raises CacheUnavailable naming the setting when unreachable."""

    @abstractmethod
    def replace_symbols(self, bars: pd.DataFrame) -> int:
        """For each symbol in ``bars``, make its cached bars exactly its newest ``keep_bars`` rows of ``bars``.

        Written in pipelined batches (never a round trip per bar); resets the symbol's TTL, marks it recently
        used, then evicts least recently used symbols beyond ``max_symbols``. Returns the bars written.
        """

    @abstractmethod
    def invalidate(self, dates_by_symbol: Mapping[str, Iterable[dt.date]]) -> int:
        """Drop exactly these symbols' cached bars on these dates (e.g. bars a stream message supersedes);
        returns the bars dropped."""

    @abstractmethod
    def invalidate_spans(self, spans: Mapping[str, tuple[dt.date, dt.date]]) -> int:
        """Drop each symbol's cached bars dated within its inclusive span; returns the bars dropped.

        For rewritten partitions: the store never deletes bars, so a symbol's cached bars inside the span of dates
        a partition rewrote are exactly the bars it rewrote — one range per symbol instead of one per bar.
        """

    @abstractmethod
    def last_bars(self, symbol: str, n: int) -> pd.DataFrame | None:
        """The symbol's newest ``n`` bars, oldest first; None (a counted miss) unless ``n`` are cached."""

    @abstractmethod
    def bar_on(self, symbol: str, day: dt.date) -> pd.DataFrame | None:
        """A one-row frame with the symbol's bar on ``day``; None (a counted miss) when it is not cached."""

    @abstractmethod
    def latest_cached(self) -> pd.DataFrame:
        """Each cached symbol's newest bar, ordered by symbol; not counted as a read, not an LRU touch."""

    @abstractmethod
    def stats(self) -> CacheStats:
        """Hits, misses, cached symbols and memory of this namespace, as every process sees them."""

    @abstractmethod
    def take_window(self) -> CacheWindow:
        """Hits and misses since the previous call (any process), and start a new window."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every key of this namespace (bars, LRU index, counters)."""
