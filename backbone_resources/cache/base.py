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
from typing import Any, ClassVar

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from backbone_domain.provisional import ProvisionalBar
from backbone_resources.cache.settings import CachePolicy
from backbone_resources.probe import Probe
from backbone_resources.unavailable import CacheUnavailable

__all__ = ["CacheStats", "CacheUnavailable", "CacheWindow", "HotCache"]


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

    policy: CachePolicy = Field(default_factory=CachePolicy, description="BACKBONE_CACHE_*")

    kinds: ClassVar[tuple[str, ...]] = ()  # what the UI's kind tags name for assets this backend serves

    # The policy's knobs under the names the backends and checks read.
    @property
    def namespace(self) -> str:
        return self.policy.namespace

    @property
    def keep_bars(self) -> int:
        return self.policy.bars

    @property
    def ttl_seconds(self) -> int:
        return self.policy.ttl_s

    @property
    def max_symbols(self) -> int:
        return self.policy.max_symbols

    @property
    def hit_ratio_warn(self) -> float:
        return self.policy.hit_ratio_warn

    @property
    def min_reads(self) -> int:
        return self.policy.min_reads

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend, endpoint without secrets, namespace and policy (``policy_description``), for metadata and
        ``backbone doctor``."""

    def policy_description(self) -> dict[str, Any]:
        """The policy every backend applies, as ``describe`` reports it."""
        return {
            "namespace": self.namespace,
            "keep_bars": self.keep_bars,
            "ttl_seconds": self.ttl_seconds,
            "max_symbols": self.max_symbols,
        }

    @abstractmethod
    def ping(self) -> float:
        """Round-trip time in milliseconds; raises CacheUnavailable naming the setting when unreachable."""

    @abstractmethod
    def probe(self) -> Probe:
        """Reachable or not, and the server's version; never raises for an unreachable cache."""

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
    def put_provisional(self, bar: ProvisionalBar) -> bool:
        """Make ``bar`` the symbol's provisional daily bar (``backbone_domain.provisional``), in its own key beside
        the final bars: never counted, never in the LRU index or ``keep_bars``, expiring ``ttl_seconds`` after
        its last write. A bar of an older session than the one held is refused (returns False), atomically: a
        replay of a past session never hides the current one."""

    @abstractmethod
    def provisional(self, symbol: str) -> ProvisionalBar | None:
        """The symbol's provisional daily bar, or None; not counted as a read, not an LRU touch. Whether to show
        it beside the final bars is the reader's rule (``provisional.shown``)."""

    @abstractmethod
    def stats(self) -> CacheStats:
        """Hits, misses, cached symbols and memory of this namespace, as every process sees them."""

    @abstractmethod
    def take_window(self) -> CacheWindow:
        """Hits and misses since the previous call (any process), and start a new window."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every key of this namespace (bars, LRU index, counters)."""

    @abstractmethod
    def replace_bars(self, bars: pd.DataFrame) -> int:
        """Replace the cached bar of each row's (symbol, date) by the row, only where the cache holds a bar on
        that date whose version (``ingested_at``) is not newer than the row's: a correction of a stored bar
        reaches its cached copy and nothing else (no other date, no whole-symbol rewrite, no date added, the TTL
        and LRU untouched), and a late message never puts an older version back. Returns the bars replaced."""
