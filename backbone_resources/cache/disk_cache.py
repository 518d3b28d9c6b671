"""The bootstrap hot cache: a SQLite-backed ``diskcache`` directory under BACKBONE_HOME, shared by processes.

Every Dagster run (and every step of a multiprocess run) is its own process, so an in-process dict would start
cold each time; diskcache keeps the bars, the LRU marks and the hit/miss counters in one SQLite file that any
process opens. Keys under the namespace ``ns``:

- ``ns:bars:SYMBOL``  {date ordinal: encoded bar}, oldest first; expires ``ttl_seconds`` after its last write.
- ``ns:lru:SYMBOL``   time of the symbol's last read or write (a separate key, so a read never rewrites bars).
- ``ns:stats:hits`` / ``ns:stats:misses``  counters (``Cache.incr`` is atomic across processes).
- ``ns:window``       the counters as the previous check saw them.
- ``ns:provisional:SYMBOL``  the provisional daily bar of a session under way (``backbone_domain.provisional``).

diskcache's own size-based eviction is off (``eviction_policy="none"``): only the documented policy evicts.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import diskcache
import pandas as pd
from dagster import InitResourceContext
from pydantic import Field, PrivateAttr

from backbone_domain import hot_bars, provisional
from backbone_domain.bars import empty_bars
from backbone_domain.provisional import ProvisionalBar
from backbone_resources.cache.base import CacheStats, CacheUnavailable, CacheWindow, HotCache
from backbone_resources.probe import Probe, probing


class DiskHotCache(HotCache):
    """Latest bars per symbol in a diskcache directory (see the module docstring)."""

    directory: str = Field(description="$BACKBONE_HOME/hot_cache")

    kinds: ClassVar[tuple[str, ...]] = ("diskcache",)

    _cache: diskcache.Cache | None = PrivateAttr(default=None)
    _guard: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        with self._guard:
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    @contextmanager
    def _errors(self) -> Iterator[diskcache.Cache]:
        try:
            with self._guard:
                if self._cache is None:
                    Path(self.directory).mkdir(parents=True, exist_ok=True)
                    self._cache = diskcache.Cache(self.directory, eviction_policy="none", timeout=30)
                cache = self._cache
            yield cache
        except (OSError, sqlite3.Error) as exc:
            raise CacheUnavailable(f"disk cache at {self.directory} failed (BACKBONE_HOME): {exc}") from None

    def _key(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "diskcache",
            "endpoint": self.directory,
            **self.policy_description(),
        }

    def ping(self) -> float:
        started = time.perf_counter()
        with self._errors() as cache:
            cache.get(self._key("ping"))
        return (time.perf_counter() - started) * 1000

    def probe(self) -> Probe:
        def version() -> str:
            self.ping()
            return diskcache.__version__

        return probing("diskcache", self.directory, version)

    def replace_symbols(self, bars: pd.DataFrame) -> int:
        members: dict[str, dict[int, str]] = defaultdict(dict)
        for symbol, ordinal, member in hot_bars.encode(hot_bars.last_per_symbol(bars, self.keep_bars)):
            members[symbol][ordinal] = member
        now = time.time()
        with self._errors() as cache, cache.transact():
            for symbol, by_date in members.items():
                cache.set(self._key("bars", symbol), dict(sorted(by_date.items())), expire=self.ttl_seconds)
                cache.set(self._key("lru", symbol), now, expire=self.ttl_seconds)
            self._evict(cache)
        return sum(len(m) for m in members.values())

    def _evict(self, cache: diskcache.Cache) -> None:
        used = {key: cache.get(key) for key in self._lru_keys(cache)}
        live = sorted((t, k) for k, t in used.items() if t is not None)
        for _, key in live[: max(0, len(live) - self.max_symbols)]:
            symbol = key.rsplit(":", 1)[1]
            cache.delete(self._key("bars", symbol))
            cache.delete(key)

    def _lru_keys(self, cache: diskcache.Cache) -> list[str]:
        prefix = self._key("lru", "")
        return [k for k in cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]

    def invalidate(self, dates_by_symbol: Mapping[str, Iterable[dt.date]]) -> int:
        gone = {s: {d.toordinal() for d in days} for s, days in dates_by_symbol.items()}
        return self._drop({s: lambda o, g=g: o in g for s, g in gone.items()})

    def invalidate_spans(self, spans: Mapping[str, tuple[dt.date, dt.date]]) -> int:
        bounds = {s: (first.toordinal(), last.toordinal()) for s, (first, last) in spans.items()}
        return self._drop({s: lambda o, b=b: b[0] <= o <= b[1] for s, b in bounds.items()})

    def _drop(self, doomed: Mapping[str, Callable[[int], bool]]) -> int:
        """Rewrite each named symbol's entry without the bars ``doomed`` picks, keeping its expiry time."""
        dropped = 0
        with self._errors() as cache, cache.transact():
            for symbol, drop in doomed.items():
                key = self._key("bars", symbol)
                cached, expire = cache.get(key, expire_time=True)
                if not cached:
                    continue
                kept = {o: m for o, m in cached.items() if not drop(o)}
                dropped += len(cached) - len(kept)
                left = None if expire is None else max(1.0, expire - time.time())
                cache.set(key, kept, expire=left)
        return dropped

    def last_bars(self, symbol: str, n: int) -> pd.DataFrame | None:
        with self._errors() as cache:
            cached = cache.get(self._key("bars", symbol)) or {}
            members = list(cached.values())[-n:] if n > 0 else []
            return self._counted(cache, symbol, members if len(members) == n and n > 0 else None)

    def bar_on(self, symbol: str, day: dt.date) -> pd.DataFrame | None:
        with self._errors() as cache:
            member = (cache.get(self._key("bars", symbol)) or {}).get(day.toordinal())
            return self._counted(cache, symbol, [member] if member else None)

    def _counted(self, cache: diskcache.Cache, symbol: str, members: list[str] | None) -> pd.DataFrame | None:
        cache.incr(self._key("stats", "hits" if members else "misses"), default=0)
        if members:
            cache.set(self._key("lru", symbol), time.time(), expire=self.ttl_seconds)
        return hot_bars.decode(symbol, members) if members else None

    def latest_cached(self) -> pd.DataFrame:
        frames = []
        with self._errors() as cache:
            for key in sorted(self._lru_keys(cache)):
                symbol = key.rsplit(":", 1)[1]
                cached = cache.get(self._key("bars", symbol))
                if cached:
                    frames.append(hot_bars.decode(symbol, [next(reversed(cached.values()))]))
        return pd.concat(frames, ignore_index=True) if frames else empty_bars()

    def put_provisional(self, bar: ProvisionalBar) -> bool:
        text = provisional.encode(bar)
        key = self._key("provisional", bar.symbol)
        with self._errors() as cache, cache.transact():
            if not provisional.newer_or_same(cache.get(key), text):
                return False
            cache.set(key, text, expire=self.ttl_seconds)
        return True

    def provisional(self, symbol: str) -> ProvisionalBar | None:
        with self._errors() as cache:
            text = cache.get(self._key("provisional", symbol))
        return None if text is None else provisional.decode(text)

    def stats(self) -> CacheStats:
        with self._errors() as cache:
            keys = sum(1 for k in self._lru_keys(cache) if self._key("bars", k.rsplit(":", 1)[1]) in cache)
            return CacheStats(
                backend="diskcache",
                namespace=self.namespace,
                hits=int(cache.get(self._key("stats", "hits"), 0)),
                misses=int(cache.get(self._key("stats", "misses"), 0)),
                keys=keys,
                memory_bytes=int(cache.volume()),
            )

    def take_window(self) -> CacheWindow:
        with self._errors() as cache, cache.transact():
            hits = int(cache.get(self._key("stats", "hits"), 0))
            misses = int(cache.get(self._key("stats", "misses"), 0))
            prev_hits, prev_misses = cache.get(self._key("window"), (0, 0))
            cache.set(self._key("window"), (hits, misses))
        return CacheWindow(hits=hits - prev_hits, misses=misses - prev_misses)

    def clear(self) -> None:
        prefix = self._key("")
        with self._errors() as cache, cache.transact():
            for key in [k for k in cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]:
                cache.delete(key)

    def replace_bars(self, bars: pd.DataFrame) -> int:
        by_symbol: dict[str, dict[int, str]] = defaultdict(dict)
        for symbol, ordinal, member in hot_bars.encode(bars):
            by_symbol[symbol][ordinal] = member
        replaced = 0
        with self._errors() as cache, cache.transact():
            for symbol, members in by_symbol.items():
                key = self._key("bars", symbol)
                cached, expire = cache.get(key, expire_time=True)
                held = {o: m for o, m in members.items() if cached and o in cached and _older(cached[o], m)}
                if not held:
                    continue
                left = None if expire is None else max(1.0, expire - time.time())
                cache.set(key, cached | held, expire=left)
                replaced += len(held)
        return replaced


def _older(cached: str, member: str) -> bool:
    """Whether the cached member's version is not newer than ``member``'s: the last field is ``ingested_at`` as
    fixed-width ISO text (``hot_bars``), so text order is time order ('' for none sorts first)."""
    return cached.rsplit(hot_bars.SEP, 1)[1] <= member.rsplit(hot_bars.SEP, 1)[1]
