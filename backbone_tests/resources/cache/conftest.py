"""Bars to cache, and a factory for each cache backend: diskcache in a temp dir, Redis under a test namespace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from backbone_resources.cache.base import HotCache
from backbone_resources.cache.settings import CachePolicy

MakeCache = Callable[..., HotCache]


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
