"""Bars to cache, and a factory for each cache backend: diskcache in a temp dir, Redis under a test namespace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backbone_domain.bars import BAR_COLUMNS, BAR_DTYPES
from backbone_resources.cache.base import HotCache
from backbone_resources.cache.settings import CachePolicy

MakeCache = Callable[..., HotCache]


def make_bars(symbols: list[str], days: int, start: str = "2024-01-01", bump: float = 0.0) -> pd.DataFrame:
    """Business-day bars with distinct values per symbol and day; every 7th adj_close missing (NULL)."""
    dates = pd.bdate_range(start, periods=days, tz="UTC")
    rows = []
    for k, symbol in enumerate(symbols):
        for i, ts in enumerate(dates):
            base = 100.0 * (k + 1) + i + bump + 0.123456789
            adj = np.nan if i % 7 == 0 else base * 0.99
            ingested = pd.Timestamp("2024-12-01T10:00:00.123456", tz="UTC")
            rows.append((symbol, ts, base, base + 2, base - 2, base + 1, adj, 1_000.0 + i, "synthetic", ingested))
    return pd.DataFrame(rows, columns=list(BAR_COLUMNS)).astype(BAR_DTYPES)


@pytest.fixture(params=["disk", pytest.param("redis", marks=pytest.mark.redis)])
def make_cache(request, tmp_path: Path) -> MakeCache:
    made: list[HotCache] = []

    def make(**knobs: object) -> HotCache:
        # Constructed, not validated: the TTL drill uses 1 s, below the 60 s BACKBONE_CACHE_TTL_S may set.
        names = {"keep_bars": "bars", "ttl_seconds": "ttl_s"}
        fields = {names.get(k, k): v for k, v in knobs.items()}
        if request.param == "redis":
            fields["namespace"] = request.getfixturevalue("redis_namespace")
        policy = CachePolicy.model_construct(**{**CachePolicy().model_dump(), **fields})
        if request.param == "disk":
            from backbone_resources.cache.disk_cache import DiskHotCache

            cache: HotCache = DiskHotCache(directory=str(tmp_path / "hot_cache"), policy=policy)
        else:
            from backbone_resources.cache.redis_cache import RedisHotCache

            url = request.getfixturevalue("redis_server_url")
            cache = RedisHotCache(url=url, policy=policy)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.clear()
        cache.close()  # type: ignore[attr-defined]
