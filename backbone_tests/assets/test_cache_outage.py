"""The Redis outage drill of docs/operations/runbooks/redis_cache_outage.md, scripted against a redis-server this
test starts, stops (mid-run, as the cache step begins) and restarts itself (never the shared one): detect,
stabilise, recover, verify."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import SecretStr

from backbone_assets import cache as cache_assets
from backbone_domain.calendars import trading_days
from backbone_domain.hot_reader import apply_changes as real_apply
from backbone_domain.hot_reader import read_last, stale_symbols
from backbone_domain.hot_reader import refresh as real_refresh
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.cache.base import CacheUnavailable
from backbone_resources.cache.settings import CachePolicy, CacheSettings, RedisSettings
from backbone_tests.fixtures.own_redis import OwnRedis

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

JAN, JAN_END, FEB_END = dt.date(2024, 1, 1), dt.date(2024, 1, 31), dt.date(2024, 2, 29)
CACHE_FLOW = ["daily_bars_raw", "daily_bars", "weekly_bars", "daily_bars_hot_cache"]


def _expected(symbols, start, end) -> int:
    return sum(len(trading_days(s, start, end)) for s in symbols)


def _failed_steps(result) -> dict[str, str]:
    """Each failed step's error with its causes (after retries, the last error says "Exceeded max_retries")."""
    return {
        e.step_key: e.event_specific_data.error.to_string()  # type: ignore[union-attr]
        for e in result.get_step_failure_events()
    }


def test_outage_drill(institutional, spark_options, tmp_path, monkeypatch):  # the checks read the Spark exports
    server = OwnRedis(tmp_path / "redis")
    server.start()
    settings = institutional.model_copy(
        update={
            "redis_url": SecretStr(server.url),
            "cache": CacheSettings(
                policy=CachePolicy(namespace="drill", retry_delay_s=0.2),  # the retries, not their spacing
                redis=RedisSettings(connect_timeout_s=0.5, socket_timeout_s=0.5),
            ),
        }
    )
    try:
        # Before: the flow warms the cache and readers hit it.
        assert runner.materialize(settings, JAN, JAN_END, CACHE_FLOW).success
        with all_resources(settings) as r:
            assert read_last(r.cache, r.store, "EURUSD", 5).served_by == "cache"

        # Outage mid-run: Redis stops as the run reaches the cache step, after the store's steps have written.
        with monkeypatch.context() as patch:
            # the cache step's first call after its ping, on a first run or after one (the change feed)
            patch.setattr(cache_assets, "refresh", lambda *a, **k: server.stop() or real_refresh(*a, **k))
            patch.setattr(cache_assets, "apply_changes", lambda *a, **k: server.stop() or real_apply(*a, **k))
            during = runner.materialize(settings, JAN, FEB_END, CACHE_FLOW)
        assert not during.success

        # Detect: the heartbeat fails naming the setting; the hit-ratio check warns instead of crashing the run.
        with all_resources(settings) as r, pytest.raises(CacheUnavailable, match="BACKBONE_REDIS_URL"):
            r.cache.ping()
        checks = {e.check_name: e for e in runner.run_checks(settings).get_asset_check_evaluations()}
        assert checks["hot_cache_hit_ratio"].passed is False
        assert "not reachable" in checks["hot_cache_hit_ratio"].description

        # Stabilise: ingest still landed every bar; only the cache asset failed (after its retries), clearly.
        landed = {e.asset_key.path[-1] for e in during.get_asset_materialization_events()}
        assert {"daily_bars_raw", "daily_bars", "weekly_bars"} <= landed
        assert "daily_bars_hot_cache" not in landed
        failures = _failed_steps(during)
        assert set(failures) == {"daily_bars_hot_cache"}
        assert "BACKBONE_REDIS_URL" in failures["daily_bars_hot_cache"]
        retries = [e for e in during.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        assert len(retries) == 2
        with all_resources(settings) as r:
            assert r.store.quality_counts().bars == _expected(settings.symbols, JAN, FEB_END)  # no lost writes
            answer = read_last(r.cache, r.store, "EURUSD", 5)  # readers keep answering, from the store
            assert answer.served_by == "store"
            assert answer.note.startswith("cache unavailable")
            newest = answer.bars["ts"].iloc[-1].date()
            stored = r.store.quality_counts().bars
        assert newest > JAN_END
        print(f"Redis stopped mid-run: {stored} bars stored, cache step failed after {len(retries)} retries")

        # Recover: Redis comes back empty (no persistence); one cache materialization warms it again.
        server.start()
        with all_resources(settings) as r:
            assert r.cache.stats().keys == 0
        assert runner.materialize(settings, JAN, FEB_END, ["daily_bars_hot_cache"]).success

        # Verify: readers hit the cache again, with the bars ingested during the outage; cache equals store.
        with all_resources(settings) as r:
            again = read_last(r.cache, r.store, "EURUSD", 5)
            assert again.served_by == "cache"
            assert again.bars["ts"].iloc[-1].date() == newest
            assert stale_symbols(r.cache, r.store) == {}
            assert r.cache.stats().keys == len(settings.symbols)
            print(f"recovered: {r.cache.stats().keys} symbols cached again, readers served by the cache")
        checks = {e.check_name: e for e in runner.run_checks(settings).get_asset_check_evaluations()}
        assert checks["hot_cache_matches_store"].passed
    finally:
        server.stop()
