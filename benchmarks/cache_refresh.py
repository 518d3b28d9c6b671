"""Refresh of 500 symbols × 260 bars into Redis: the cache write alone, and the whole refresh from the store.

1. ``replace_symbols``: 130,000 bars already in memory → encoded → pipelined MULTI batches into Redis.
2. ``refresh``: what ``daily_bars_hot_cache`` does after a run — read the rewritten range and each symbol's
   newest 260 bars from a DuckDB store (loaded beforehand, untimed), invalidate, then write them to Redis.
3. 2,000 read-through ``last_bars(SYMBOL, 5)`` calls, for the latency of a hit.

Uses its own key namespace on ``BACKBONE_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/0) and deletes it.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from backbone_domain import hot_bars
from backbone_domain.hot_reader import read_last, refresh, store_latest
from backbone_domain.pipeline import date_chunks
from backbone_domain.validation import validate_bars
from backbone_resources.cache.redis_cache import RedisHotCache
from backbone_resources.cache.settings import CachePolicy
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.duckdb_store import DuckDBBarStore
from benchmarks._pg import universe


def run(symbols: int, bars: int, repeats: int) -> dict[str, object]:
    url = os.environ.get("BACKBONE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    end = dt.date(2024, 12, 31)
    start = hot_bars.window_start(end, bars)
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBBarStore(path=str(Path(tmp) / "bench.duckdb"))
        source = SyntheticSource(symbols=universe(symbols))
        for lo, hi in date_chunks(start, end, 92):  # untimed: the store's contents
            checked = validate_bars(source.fetch(lo, hi))
            store.write_validated(lo, hi, checked.accepted, checked.rejected)
        frame = store_latest(store, universe(symbols), bars)
        cache = RedisHotCache(url=url, policy=CachePolicy(namespace=f"bench_{secrets.token_hex(4)}", bars=bars))
        try:
            cache.ping()
            write_s = []
            for _ in range(repeats):
                began = time.perf_counter()
                written = cache.replace_symbols(frame)
                write_s.append(time.perf_counter() - began)
            refresh_s = []
            for _ in range(repeats):
                began = time.perf_counter()
                report = refresh(cache, store, end - dt.timedelta(days=6), end, chunk_days=31)
                refresh_s.append(time.perf_counter() - began)
            names = universe(symbols)
            began = time.perf_counter()
            for i in range(2_000):
                assert read_last(cache, store, names[i % len(names)], 5).served_by == "cache"
            read_ms = (time.perf_counter() - began) / 2_000 * 1000
            stats = cache.stats()
        finally:
            cache.clear()
            cache.close()
    return {
        "symbols": symbols,
        "bars_per_symbol": bars,
        "bars_written": written,
        "replace_symbols_s_median": round(statistics.median(write_s), 3),
        "replace_symbols_s_all": [round(s, 3) for s in write_s],
        "refresh_from_store_s_median": round(statistics.median(refresh_s), 3),
        "refresh_symbols": report.symbols,
        "read_hit_ms_mean": round(read_ms, 3),
        "redis_memory_bytes": stats.memory_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--bars", type=int, default=260)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.symbols, args.bars, args.repeats)))


if __name__ == "__main__":
    main()
