"""Cache layer: each symbol's latest bars kept hot (Redis on institutional, diskcache on bootstrap), and its checks.

The asset and checks only see the ``HotCache`` interface; the work is in ``backbone_domain.hot_reader``. The
checks measure the cache itself (never a loaded asset value) and record the figure beside its threshold.
"""

from collections.abc import Mapping

import dagster as dg

from backbone_assets.changes import changes_metadata, layer_changes
from backbone_assets.ingest import OWNERS
from backbone_assets.partitions import on_store, upstream_dates
from backbone_domain.health import hit_ratio_verdict
from backbone_domain.hot_reader import apply_changes, refresh, stale_symbols
from backbone_resources.cache.base import CacheUnavailable, HotCache
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore


def build_cache_assets(
    partitions: dg.DailyPartitionsDefinition, kinds: Mapping[str, set[str]], retry_delay_s: float = 3.0
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        deps=[on_store()],  # each symbol's newest bars: unpartitioned
        backfill_policy=dg.BackfillPolicy.single_run(),
        # Redis down is usually a restart or a failover: a few spaced retries ride it out without paging anyone.
        retry_policy=dg.RetryPolicy(max_retries=2, delay=retry_delay_s, backoff=dg.Backoff.EXPONENTIAL),
        group_name="cache",
        kinds=kinds["cache"],
        owners=OWNERS,
        pool="cache",
    )
    def daily_bars_hot_cache(
        context: dg.AssetExecutionContext, cache: HotCache, store: BarStore, source: BarSource, policy: PipelinePolicy
    ) -> dg.MaterializeResult:
        """Each symbol's latest bars, hot: a corrected bar replaced where cached, a symbol with new days
        reloaded from the store (on the first run: every symbol of the run's range)."""
        start, end = upstream_dates(context, partitions)
        ping_ms = cache.ping()  # CacheUnavailable names BACKBONE_REDIS_URL; the retry policy takes it from here
        changes = layer_changes(context, store)
        if changes.first_run:
            report = refresh(cache, store, start, end, policy.days_per_chunk(len(source.universe())))
        else:
            report = apply_changes(cache, store, changes)
        return dg.MaterializeResult(
            metadata={
                **changes_metadata(changes),
                "bars_corrected_in_place": report.corrected,
                "symbols_refreshed": report.symbols,
                "bars_rewritten_in_range": report.rewritten_bars,
                "bars_invalidated": report.invalidated,
                "bars_cached": report.written,
                "ping_ms": round(ping_ms, 2),
                "date_range": f"{start}..{end}",
                "cache": cache.describe(),
                **policy.tier_metadata(),
            }
        )

    return [daily_bars_hot_cache]


def build_cache_checks() -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="daily_bars_hot_cache", pool="cache", description="Hit ratio of reads since the previous check."
    )
    def hot_cache_hit_ratio(cache: HotCache) -> dg.AssetCheckResult:
        threshold = {"threshold": dg.MetadataValue.float(cache.hit_ratio_warn), "min_reads": cache.min_reads}
        try:
            window, stats = cache.take_window(), cache.stats()
        except CacheUnavailable as exc:
            return _unavailable(exc, {"backend": cache.describe()["backend"], **threshold})
        verdict = hit_ratio_verdict(window, cache.hit_ratio_warn, cache.min_reads)
        ratio = {} if verdict.hit_ratio is None else {"hit_ratio": dg.MetadataValue.float(round(verdict.hit_ratio, 4))}
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=verdict.description,
            metadata={
                **ratio,
                **threshold,
                "hits": window.hits,
                "misses": window.misses,
                "keys": stats.keys,
                "memory_bytes": stats.memory_bytes,
                "backend": stats.backend,
                "namespace": stats.namespace,
            },
        )

    @dg.asset_check(
        asset="daily_bars_hot_cache", pool="cache", description="Every cached symbol's newest bar equals the store's."
    )
    def hot_cache_matches_store(cache: HotCache, store: BarStore) -> dg.AssetCheckResult:
        try:
            stale = stale_symbols(cache, store)
        except CacheUnavailable as exc:
            return _unavailable(exc, {"backend": cache.describe()["backend"]})
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(f"{s}: {why}" for s, why in sorted(stale.items())[:20]) or "cache matches store",
            metadata={"stale_symbols": len(stale), "threshold": 0},
        )

    return [hot_cache_hit_ratio, hot_cache_matches_store]


def _unavailable(exc: CacheUnavailable, metadata: dict) -> dg.AssetCheckResult:
    """An unreachable cache is a warning, not a failed check run: readers are on the store meanwhile."""
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.WARN, description=str(exc), metadata=metadata
    )
