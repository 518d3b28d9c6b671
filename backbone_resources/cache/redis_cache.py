"""The institutional hot cache: Redis through one pooled redis-py client.

Layout under the namespace ``ns`` (one symbol = one key, so TTL and eviction act per symbol):

- ``ns:bars:SYMBOL``  sorted set, score = date ordinal, member = encoded bar (``backbone_domain.hot_bars``):
  last n = ``ZRANGE -n -1``, bar on D = ``ZRANGE BYSCORE D D``; both O(log N + n), no scan.
- ``ns:lru``          sorted set, symbol -> time of its last read or write; eviction pops the lowest scores.
- ``ns:stats``        hash of hit/miss counters (``HINCRBY``: every process adds to the same figures).
- ``ns:window``       the counters as the previous check saw them (the check's window starts there).
- ``ns:provisional:SYMBOL``  string: the provisional daily bar of a session under way
  (``backbone_domain.provisional``), with its own TTL; outside the LRU index, so eviction never counts it.

Writes go in MULTI/EXEC batches of symbols: a reader sees a symbol's old bars or its new ones, never a mix.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from typing import Any, ClassVar

import pandas as pd
import redis
from dagster import InitResourceContext
from pydantic import Field, PrivateAttr
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from backbone_domain import hot_bars, provisional
from backbone_domain.bars import empty_bars
from backbone_domain.provisional import ProvisionalBar
from backbone_domain.redaction import redact, redact_url, secrets_in
from backbone_resources.cache.base import CacheStats, CacheUnavailable, CacheWindow, HotCache
from backbone_resources.cache.settings import RedisSettings
from backbone_resources.env import secret
from backbone_resources.probe import Probe, probing

SYMBOLS_PER_BATCH = 100  # ~26,000 bars a MULTI at 260 bars a symbol: few round trips, bounded replies
# Read the counters and move the window's start to them in one atomic step: two checks never share reads.
_TAKE_WINDOW = """
local cur = redis.call('HMGET', KEYS[1], 'hits', 'misses')
local prev = redis.call('HMGET', KEYS[2], 'hits', 'misses')
local h, m = cur[1] or '0', cur[2] or '0'
redis.call('HSET', KEYS[2], 'hits', h, 'misses', m)
return {h, m, prev[1] or '0', prev[2] or '0'}
"""

# Keep the newer session: the stored text and the new one both start with their session's ISO date.
_PUT_PROVISIONAL = """
local old = redis.call('GET', KEYS[1])
if old and string.sub(old, 1, 10) > string.sub(ARGV[1], 1, 10) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """itertools.batched, which Python 3.11 lacks."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


# One atomic step per batch: a member replaces the bar of its date only where one is cached (never adds a date,
# so a symbol's window stays its newest bars) and its version is not newer: the last field of a member is
# ingested_at as fixed-width ISO text (hot_bars), so text order is time order. KEYS[i] is row i's symbol key,
# ARGV its ordinal and member.
_REPLACE_HELD = """
local replaced = 0
for i, key in ipairs(KEYS) do
    local ordinal, member = ARGV[2 * i - 1], ARGV[2 * i]
    local held = redis.call('ZRANGEBYSCORE', key, ordinal, ordinal)
    if #held > 0 and string.match(held[1], '([^|]*)$') <= string.match(member, '([^|]*)$') then
        redis.call('ZREMRANGEBYSCORE', key, ordinal, ordinal)
        redis.call('ZADD', key, ordinal, member)
        replaced = replaced + 1
    end
end
return replaced
"""


class RedisHotCache(HotCache):
    """Latest bars per symbol in Redis at BACKBONE_REDIS_URL (see the module docstring)."""

    url: str = Field("", description="BACKBONE_REDIS_URL: redis://host:6379/0, or rediss:// for TLS")
    url_file: str | None = Field(None, description="BACKBONE_REDIS_URL_FILE: a file holding the URL instead")
    redis: RedisSettings = Field(default_factory=RedisSettings, description="BACKBONE_REDIS_*")

    kinds: ClassVar[tuple[str, ...]] = ("redis",)

    _redis: redis.Redis | None = PrivateAttr(default=None)
    _guard: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Ping at start, but only warn: a run that also ingests must not fail because the cache is down."""
        try:
            context.log.info(f"redis cache {self._endpoint()}: ping {self.ping():.1f} ms")  # type: ignore[union-attr]
        except CacheUnavailable as exc:
            context.log.warning(f"{exc}; cache assets will fail, readers fall back to the store")  # type: ignore[union-attr]

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        with self._guard:
            if self._redis is not None:
                self._redis.connection_pool.disconnect()
                self._redis = None

    def _client(self) -> redis.Redis:
        with self._guard:
            if self._redis is None:
                conf = self.redis
                options: dict[str, Any] = {
                    "max_connections": conf.pool_size,
                    "socket_timeout": conf.socket_timeout_s,
                    "socket_connect_timeout": conf.connect_timeout_s,
                    "health_check_interval": 30,
                    "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
                }
                options |= {k: v for k, v in (("username", conf.username), ("password", self._password())) if v}
                if self._url().startswith("rediss://"):
                    options |= {
                        k: v
                        for k, v in (
                            ("ssl_ca_certs", conf.ssl_ca_certs),
                            ("ssl_certfile", conf.ssl_certfile),
                            ("ssl_keyfile", conf.ssl_keyfile),
                        )
                        if v
                    }
                self._redis = redis.Redis(connection_pool=redis.ConnectionPool.from_url(self._url(), **options))
            return self._redis

    def _endpoint(self) -> str:
        return redact_url(self._url())

    def _redact(self, exc: Exception) -> str:
        return redact(str(exc), [self._password(), *secrets_in(self._url())])

    def _url(self) -> str:
        return secret(self.url, self.url_file, "BACKBONE_REDIS_URL") or ""

    def _password(self) -> str | None:
        """The configured password, or its file's content read now (a rotation is seen at the next connect)."""
        return secret(self.redis.password, self.redis.password_file, "BACKBONE_REDIS_PASSWORD")

    @contextmanager
    def _errors(self) -> Iterator[redis.Redis]:
        """Redis errors as CacheUnavailable naming the setting; redis-py's messages carry host:port (and are
        masked anyway: a server's reply is not ours to trust)."""
        try:
            yield self._client()
        except redis.AuthenticationError as exc:
            raise CacheUnavailable(
                f"Redis at {self._endpoint()} refused the credentials "
                f"(BACKBONE_REDIS_URL / BACKBONE_REDIS_USERNAME / BACKBONE_REDIS_PASSWORD): {self._redact(exc)}"
            ) from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise CacheUnavailable(
                f"Redis at {self._endpoint()} is not reachable (BACKBONE_REDIS_URL): {self._redact(exc)}"
            ) from None

    def _key(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    # -- the interface ---------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "endpoint": self._endpoint(),
            "tls": self._url().startswith("rediss://"),
            **self.policy_description(),
        }

    def ping(self) -> float:
        started = time.perf_counter()
        with self._errors() as r:
            r.ping()
        return (time.perf_counter() - started) * 1000

    def probe(self) -> Probe:
        def version() -> str:
            with self._errors() as r:
                return str(r.info("server").get("redis_version", ""))

        return probing("redis", self._endpoint(), version)

    def replace_symbols(self, bars: pd.DataFrame) -> int:
        members: dict[str, dict[str, int]] = defaultdict(dict)
        for symbol, ordinal, member in hot_bars.encode(hot_bars.last_per_symbol(bars, self.keep_bars)):
            members[symbol][member] = ordinal
        now = time.time()
        with self._errors() as r:
            for batch in _batched(members, SYMBOLS_PER_BATCH):
                pipe = r.pipeline(transaction=True)
                for symbol in batch:
                    key = self._key("bars", symbol)
                    pipe.delete(key)
                    pipe.zadd(key, members[symbol])
                    pipe.expire(key, self.ttl_seconds)
                pipe.zadd(self._key("lru"), dict.fromkeys(batch, now))
                pipe.execute()
            self._evict(r)
        return sum(len(m) for m in members.values())

    def _evict(self, r: redis.Redis) -> None:
        excess = r.zcard(self._key("lru")) - self.max_symbols
        if excess <= 0:
            return
        victims = [v.decode() for v in r.zrange(self._key("lru"), 0, excess - 1)]
        pipe = r.pipeline(transaction=True)
        pipe.delete(*(self._key("bars", s) for s in victims))
        pipe.zrem(self._key("lru"), *victims)
        pipe.execute()

    def invalidate(self, dates_by_symbol: Mapping[str, Iterable[dt.date]]) -> int:
        return self._drop((s, o, o) for s, days in dates_by_symbol.items() for o in {d.toordinal() for d in days})

    def invalidate_spans(self, spans: Mapping[str, tuple[dt.date, dt.date]]) -> int:
        return self._drop((s, first.toordinal(), last.toordinal()) for s, (first, last) in spans.items())

    def _drop(self, ranges: Iterable[tuple[str, int, int]]) -> int:
        dropped = 0
        with self._errors() as r:
            for batch in _batched(ranges, 1_000):
                pipe = r.pipeline(transaction=True)
                for symbol, lo, hi in batch:
                    pipe.zremrangebyscore(self._key("bars", symbol), lo, hi)
                dropped += int(sum(pipe.execute()))
        return dropped

    def last_bars(self, symbol: str, n: int) -> pd.DataFrame | None:
        with self._errors() as r:
            members = r.zrange(self._key("bars", symbol), -n, -1) if n > 0 else []
            return self._counted(r, symbol, members if len(members) == n and n > 0 else None)

    def bar_on(self, symbol: str, day: dt.date) -> pd.DataFrame | None:
        with self._errors() as r:
            members = r.zrangebyscore(self._key("bars", symbol), day.toordinal(), day.toordinal())
            return self._counted(r, symbol, members or None)

    def _counted(self, r: redis.Redis, symbol: str, members: list[bytes] | None) -> pd.DataFrame | None:
        pipe = r.pipeline(transaction=False)
        pipe.hincrby(self._key("stats"), "hits" if members else "misses", 1)
        if members:
            pipe.zadd(self._key("lru"), {symbol: time.time()}, xx=True)
        pipe.execute()
        return hot_bars.decode(symbol, members) if members else None

    def _symbols(self, r: redis.Redis) -> list[str]:
        return [s.decode() for s in r.zrange(self._key("lru"), 0, -1)]

    def latest_cached(self) -> pd.DataFrame:
        with self._errors() as r:
            symbols = self._symbols(r)
            pipe = r.pipeline(transaction=False)
            for symbol in symbols:
                pipe.zrange(self._key("bars", symbol), -1, -1)
            frames = [hot_bars.decode(s, m) for s, m in zip(symbols, pipe.execute(), strict=True) if m]
        return pd.concat(frames, ignore_index=True).sort_values("symbol", ignore_index=True) if frames else empty_bars()

    def put_provisional(self, bar: ProvisionalBar) -> bool:
        key = self._key("provisional", bar.symbol)
        with self._errors() as r:
            return bool(r.eval(_PUT_PROVISIONAL, 1, key, provisional.encode(bar), self.ttl_seconds))

    def provisional(self, symbol: str) -> ProvisionalBar | None:
        with self._errors() as r:
            text = r.get(self._key("provisional", symbol))
        return None if text is None else provisional.decode(text)

    def stats(self) -> CacheStats:
        with self._errors() as r:
            counters = r.hgetall(self._key("stats"))
            pipe = r.pipeline(transaction=False)
            for symbol in self._symbols(r):
                pipe.memory_usage(self._key("bars", symbol))
            sizes = [size for size in pipe.execute() if size is not None]  # expired symbols report None
        return CacheStats(
            backend="redis",
            namespace=self.namespace,
            hits=int(counters.get(b"hits", 0)),
            misses=int(counters.get(b"misses", 0)),
            keys=len(sizes),
            memory_bytes=int(sum(sizes)),
        )

    def take_window(self) -> CacheWindow:
        with self._errors() as r:
            hits, misses, prev_hits, prev_misses = (
                int(v) for v in r.eval(_TAKE_WINDOW, 2, self._key("stats"), self._key("window"))
            )
        return CacheWindow(hits=hits - prev_hits, misses=misses - prev_misses)

    def clear(self) -> None:
        with self._errors() as r:
            for keys in _batched(r.scan_iter(match=self._key("*"), count=1000), 500):
                r.delete(*keys)

    def replace_bars(self, bars: pd.DataFrame) -> int:
        rows = [(self._key("bars", s), o, m) for s, o, m in hot_bars.encode(bars)]
        replaced = 0
        with self._errors() as r:
            for batch in _batched(rows, 1_000):
                keys = [key for key, _, _ in batch]
                args = [v for _, ordinal, member in batch for v in (ordinal, member)]
                replaced += int(r.eval(_REPLACE_HELD, len(keys), *keys, *args))
        return replaced
