"""Which days an unpartitioned layer works on (``partitions.upstream_dates``), through real runs on bootstrap."""

import datetime as dt

import dagster as dg
import pytest

from backbone_assets.definitions import build_defs
from backbone_assets.jobs import DAILY_BARS_JOB
from backbone_assets.partitions import daily_partitions, last_partition_date
from backbone_ops import runner

pytestmark = pytest.mark.slow
FIRST, LAST = dt.date(2024, 1, 2), dt.date(2024, 1, 12)


def _date_range(result: dg.ExecuteInProcessResult, asset: str) -> str:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return event.materialization.metadata["date_range"].value  # type: ignore[union-attr]


def _alone(settings, asset: str) -> dg.ExecuteInProcessResult:
    """The layer materialized by itself, as the UI's Materialize button does: no partition, no range."""
    defs = build_defs(settings)
    with runner.instance(settings) as instance:
        job = defs.resolve_job_def(DAILY_BARS_JOB)
        return job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey(asset)])


def test_a_layer_follows_its_runs_range_then_what_the_store_gained_since_it_last_ran(bootstrap):
    store_only = ["daily_bars_raw", "daily_bars"]
    ranged = runner.materialize(bootstrap, FIRST, LAST, [*store_only, "daily_bars_hot_cache"])
    assert ranged.success
    assert _date_range(ranged, "daily_bars_hot_cache") == f"{FIRST}..{LAST}"  # the run's range

    later = dt.date(2024, 2, 5)
    assert runner.materialize(bootstrap, later, later, store_only).success  # the store gains a day
    caught_up = _alone(bootstrap, "daily_bars_hot_cache")
    assert _date_range(caught_up, "daily_bars_hot_cache") == f"{later}..{later}"  # what it gained since

    nothing_new = _alone(bootstrap, "daily_bars_hot_cache")
    newest = last_partition_date(daily_partitions(bootstrap.start_date, bootstrap.today))
    assert _date_range(nothing_new, "daily_bars_hot_cache") == f"{newest}..{newest}"  # the newest day
