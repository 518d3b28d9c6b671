"""The bootstrap cache outlives the process that wrote it: every Dagster run is its own process.

One process writes and reads, a second, separate process reads and sees the bars and the first one's counters;
the parent then sees both processes' reads. Redis is run the same way, so the counters are shared on both tiers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from backbone_resources.cache.base import HotCache
from backbone_resources.cache.disk_cache import DiskHotCache
from backbone_resources.cache.redis_cache import RedisHotCache
from backbone_resources.cache.settings import CachePolicy

pytestmark = pytest.mark.slow

_CHILD = textwrap.dedent(
    """
    import json, sys
    from backbone_resources.cache.disk_cache import DiskHotCache
    from backbone_resources.cache.redis_cache import RedisHotCache
    from backbone_resources.cache.settings import CachePolicy
    from backbone_tests.builders import business_day_bars

    kind, where, namespace, step = sys.argv[1:5]
    if kind == "disk":
        cache = DiskHotCache(directory=where, policy=CachePolicy(namespace=namespace, bars=50))
    else:
        cache = RedisHotCache(url=where, policy=CachePolicy(namespace=namespace, bars=50))
    if step == "write":
        cache.replace_symbols(business_day_bars(["EURUSD", "AAPL"], 60))
    got = cache.last_bars("EURUSD", 5)
    cache.last_bars("NOPE", 1)
    stats = cache.stats()
    print(json.dumps({"closes": None if got is None else list(got["close"]), "hits": stats.hits,
                      "misses": stats.misses, "keys": stats.keys}))
    """
)


def _child(kind: str, where: str, namespace: str, step: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, where, namespace, step],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _two_processes(kind: str, where: str, namespace: str, parent: HotCache) -> None:
    first = _child(kind, where, namespace, "write")
    second = _child(kind, where, namespace, "read")
    assert first["closes"] is not None
    assert second["closes"] == first["closes"]  # the second process reads what the first one wrote
    assert (first["hits"], first["misses"]) == (1, 1)
    assert (second["hits"], second["misses"]) == (2, 2)  # and adds to the first one's counters
    assert second["keys"] == 2
    stats = parent.stats()
    assert (stats.hits, stats.misses) == (2, 2)


def test_bootstrap_cache_survives_across_processes(tmp_path):
    directory = str(tmp_path / "hot_cache")
    parent = DiskHotCache(directory=directory, policy=CachePolicy(namespace="xproc"))
    try:
        _two_processes("disk", directory, "xproc", parent)
    finally:
        parent.close()


@pytest.mark.redis
def test_redis_counters_are_shared_across_processes(redis_server_url, redis_namespace):
    parent = RedisHotCache(url=redis_server_url, policy=CachePolicy(namespace=redis_namespace))
    try:
        _two_processes("redis", redis_server_url, redis_namespace, parent)
    finally:
        parent.clear()
        parent.close()
