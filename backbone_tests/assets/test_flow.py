"""The daily flow end to end through Dagster (in process, persistent instance), on both tiers."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from backbone_assets.definitions import build_defs
from backbone_assets.partitions import daily_partitions, last_partition_date
from backbone_domain.calendars import trading_days
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_tests.clock import AWKWARD_DAYS, TODAY

pytestmark = pytest.mark.slow

JAN, FEB_END = dt.date(2024, 1, 1), dt.date(2024, 2, 14)
# The batch layer's re-runs are test_batch_flow.py's (institutional: Spark, started only by tests that export).
EVERY_LAYER_BUT_BATCH = ["daily_bars_raw", "daily_bars", "weekly_bars", "daily_bars_hot_cache", "daily_bars_kafka"]


def _expected_bars(symbols, start, end) -> int:
    return sum(len(trading_days(symbol, start, end)) for symbol in symbols)


def _store_counts(settings):
    with all_resources(settings) as resources:
        return resources.store.quality_counts(), resources.store.latest_bar_dates()


def _check_results(settings) -> dict[str, tuple[bool, str]]:
    result = runner.run_checks(settings)
    assert result.success
    return {e.check_name: (e.passed, e.severity.value) for e in result.get_asset_check_evaluations()}


@pytest.mark.parametrize("tier", ["bootstrap", pytest.param("institutional", marks=pytest.mark.postgres)])
def test_range_in_one_run_is_idempotent(tier, request):
    settings = request.getfixturevalue(tier)
    first = runner.materialize(settings, JAN, FEB_END, EVERY_LAYER_BUT_BATCH)
    assert first.success
    counts, latest = _store_counts(settings)
    expected = _expected_bars(settings.symbols, JAN, FEB_END)
    assert counts.bars == expected
    assert counts.rejected == 0
    assert set(latest) == set(settings.symbols)

    second = runner.materialize(settings, JAN, FEB_END, EVERY_LAYER_BUT_BATCH)
    assert second.success
    again, _ = _store_counts(settings)
    assert again == counts

    # one run covered the whole range; its materialization metadata records the tier and why
    mats = {e.asset_key.path[-1]: e for e in first.get_asset_materialization_events()}
    meta = mats["daily_bars"].event_specific_data.materialization.metadata
    assert meta["rows_accepted"].value == expected
    assert meta["tier"].value == tier
    assert meta["date_range"].value == f"{JAN}..{FEB_END}"
    assert {"daily_bars_raw", "daily_bars", "weekly_bars", "daily_bars_hot_cache", "daily_bars_kafka"} <= set(mats)
    # ... on the range's last day only (partitions.range_result): every other day's event is bare
    for layer in ("daily_bars_raw", "daily_bars"):
        days = [e for e in first.get_asset_materialization_events() if e.asset_key.path[-1] == layer]
        assert [e.partition for e in days if e.event_specific_data.materialization.metadata] == [str(FEB_END)]
        assert len(days) == (FEB_END - JAN).days + 1


def test_checks_pass_on_fresh_data_and_fail_on_stale(bootstrap):
    last = last_partition_date(daily_partitions(bootstrap.start_date, bootstrap.today))
    assert runner.materialize(bootstrap, last - dt.timedelta(days=14), last).success
    fresh = _check_results(bootstrap)
    assert all(passed for passed, _ in fresh.values()), fresh

    stale = bootstrap.model_copy(update={"home": bootstrap.home.parent / "stale"})
    assert runner.materialize(stale, JAN, dt.date(2024, 1, 31)).success
    results = _check_results(stale)
    assert results["daily_bars_fresh"] == (False, "ERROR")
    assert results["daily_bars_unique_keys"] == (True, "ERROR")


@pytest.mark.parametrize("today", AWKWARD_DAYS, ids=str)
def test_the_newest_complete_day_is_fresh_whatever_today_is(bootstrap, today):
    """Yesterday a Saturday, a Sunday, a holiday: the bars up to yesterday are current (the store's checks only)."""
    settings = bootstrap.model_copy(update={"today": today})
    last = last_partition_date(daily_partitions(settings.start_date, settings.today))
    assert last == today - dt.timedelta(days=1)
    assert runner.materialize(settings, last - dt.timedelta(days=14), last, ["daily_bars_raw", "daily_bars"]).success
    job = dg.define_asset_job("store_checks", selection=dg.AssetSelection.checks_for_assets("daily_bars"))
    defs = dg.Definitions.merge(build_defs(settings), dg.Definitions(jobs=[job]))
    with runner.instance(settings) as inst:
        result = defs.resolve_job_def("store_checks").execute_in_process(instance=inst)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["daily_bars_fresh"].passed, checks["daily_bars_fresh"].metadata
    assert checks["daily_bars_fresh"].metadata["max_lag_days"].value == 0


def test_range_outside_the_partitions_is_refused(bootstrap):
    with pytest.raises(runner.UsageError, match="BACKBONE_START_DATE"):
        runner.resolve_range(bootstrap, dt.date(1999, 1, 1), JAN)
    with pytest.raises(runner.UsageError, match="not final"):
        runner.resolve_range(bootstrap, JAN, TODAY)
    with pytest.raises(runner.UsageError, match="unknown asset"):
        runner.materialize(bootstrap, JAN, JAN, ["no_such_asset"])
