"""The hot cache through Dagster runs (in process, persistent instance): warmed by the daily flow on both tiers,
checked, read through, and never leaking a credential into run events or metadata."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import SecretStr

from backbone_domain.hot_reader import read_last, read_on, stale_symbols
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.cache.settings import CachePolicy, CacheSettings
from backbone_tests.fixtures.own_redis import OwnRedis

pytestmark = pytest.mark.slow

JAN, JAN_END = dt.date(2024, 1, 1), dt.date(2024, 1, 31)
# The flow the cache needs; the stream and batch layers are tested on their own.
CACHE_FLOW = ["daily_bars_raw", "daily_bars", "weekly_bars", "daily_bars_hot_cache"]


def _checks(settings) -> dict[str, object]:
    """The cache's check evaluations (other layers' checks may fail here: only the cache flow was run)."""
    result = runner.run_checks(settings)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert {"hot_cache_hit_ratio", "hot_cache_matches_store"} <= set(evaluations)
    return evaluations


@pytest.mark.parametrize(
    "tier", ["bootstrap", pytest.param("institutional", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
def test_flow_warms_the_cache_and_readers_hit_it(tier, request):
    settings = request.getfixturevalue(tier).model_copy(
        update={"cache": CacheSettings(policy=CachePolicy(min_reads=3))}
    )
    if tier == "institutional":
        ns = request.getfixturevalue("redis_namespace")
        settings = settings.model_copy(update={"cache": CacheSettings(policy=CachePolicy(min_reads=3, namespace=ns))})
    result = runner.materialize(settings, JAN, JAN_END, CACHE_FLOW)
    assert result.success
    mats = {e.asset_key.path[-1]: e for e in result.get_asset_materialization_events()}
    meta = mats["daily_bars_hot_cache"].event_specific_data.materialization.metadata
    assert meta["symbols_refreshed"].value == 2
    assert meta["cache"].value["backend"] == {"bootstrap": "diskcache", "institutional": "redis"}[tier]

    with all_resources(settings) as r:
        assert stale_symbols(r.cache, r.store) == {}
        first = read_last(r.cache, r.store, "EURUSD", 5)
        assert first.served_by == "cache"
        assert first.bars["ts"].iloc[-1].date() <= JAN_END
        assert read_on(r.cache, r.store, "EURUSD", first.bars["ts"].iloc[0].date()).served_by == "cache"
        assert read_last(r.cache, r.store, "NOPE", 5).served_by == "store"
        stats = r.cache.stats()
    assert (stats.hits, stats.misses, stats.keys) == (2, 1, 2)

    checks = _checks(settings)
    ratio = checks["hot_cache_hit_ratio"]
    assert ratio.passed is False  # 2 of 3 reads: below 0.8
    assert ratio.metadata["hit_ratio"].value == pytest.approx(2 / 3, abs=1e-3)
    assert ratio.metadata["hits"].value == 2
    assert ratio.metadata["keys"].value == 2
    assert ratio.severity.value == "WARN"
    assert checks["hot_cache_matches_store"].passed
    again = _checks(settings)["hot_cache_hit_ratio"]  # a new window: no reads since
    assert again.passed
    assert again.description.startswith("not enough reads: 0")


@pytest.mark.postgres
@pytest.mark.redis
def test_credentials_never_reach_events_or_metadata(institutional, tmp_path, monkeypatch):
    server = OwnRedis(tmp_path / "redis", "--requirepass", "pw-0f-the-cache")
    server.start()
    try:
        url = f"redis://:pw-0f-the-cache@127.0.0.1:{server.port}/0"
        monkeypatch.setenv("BACKBONE_REDIS_URL", url)
        settings = institutional.model_copy(update={"redis_url": SecretStr(url)})
        result = runner.materialize(settings, JAN, dt.date(2024, 1, 5), CACHE_FLOW)
        assert result.success
        events = " ".join(repr(e) for e in result.all_events)
        assert "pw-0f-the-cache" not in events
        assert f"redis://:***@127.0.0.1:{server.port}/0" in events
        checks = runner.run_checks(settings)
        assert "pw-0f-the-cache" not in " ".join(repr(e) for e in checks.all_events)
    finally:
        server.stop()
