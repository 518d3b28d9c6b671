"""The batch exports through Dagster (in process), on both tiers: checks, re-runs, windows across runs, audit."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from backbone_assets.definitions import build_defs
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_tests.resources.batch.conftest import file_digests, python_reference, read_dataset

pytestmark = pytest.mark.slow

RERUNS = 3
NOV, DEC_END = dt.date(2020, 11, 2), dt.date(2020, 12, 31)
JAN, JAN_END = dt.date(2021, 1, 4), dt.date(2021, 1, 29)
BATCH_CHECKS = {
    "daily_bars_parquet_matches_store",
    "daily_bars_parquet_unique_keys",
    "daily_returns_matches_bars",
    "daily_returns_unique_keys",
}


def _run(settings, start, end) -> dg.ExecuteInProcessResult:
    result = runner.materialize(settings, start, end)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.check_name in BATCH_CHECKS}
    assert checks == dict.fromkeys(BATCH_CHECKS, True)
    return result


def _engine_and_bars(settings):
    with all_resources(settings) as resources:
        return resources.batch, resources.store.read_bars(NOV, JAN_END)


def test_ranges_rerun_and_windows_reach_into_the_previous_run(bootstrap):
    _run(bootstrap, NOV, DEC_END)
    _run(bootstrap, JAN, JAN_END)  # a later range, in a new year: its windows need the earlier run's bars
    engine, stored = _engine_and_bars(bootstrap)
    before = {d: file_digests(engine, d) for d in ("daily_bars", "daily_returns")}

    for _ in range(RERUNS):
        again = _run(bootstrap, JAN, JAN_END)
        # A re-run re-ingests the same bars: the store keeps their version (ingested_at), so every file keeps its
        # name and its bytes, in both datasets.
        assert {d: file_digests(engine, d) for d in ("daily_bars", "daily_returns")} == before
    mats = {
        e.asset_key.path[-1]: e.event_specific_data.materialization for e in again.get_asset_materialization_events()
    }
    # ... and since nothing changed in the store since the last export, no partition is even rewritten
    for dataset in ("daily_bars_parquet", "daily_returns"):
        assert mats[dataset].metadata["partitions_rewritten"].value == 0
        assert mats[dataset].metadata["years_rewritten"].value == "none"

    bars = read_dataset(engine, "daily_bars")
    assert len(bars) == len(stored)
    pd.testing.assert_series_equal(bars["close"], stored["close"], check_names=False)
    returns = read_dataset(engine, "daily_returns")
    expected = python_reference(stored)
    january = returns["ts"].dt.year == 2021
    assert returns.loc[january, "realized_vol_20d"].notna().all()
    np.testing.assert_allclose(returns["realized_vol_20d"], expected["realized_vol_20d"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(returns["log_return"], expected["log_return"], rtol=0, atol=1e-16)


def test_retention_audit_lists_every_holder_per_symbol(bootstrap):
    _run(bootstrap, JAN, JAN_END)
    defs = build_defs(bootstrap)
    job = defs.resolve_implicit_global_asset_job_def()
    with runner.instance(bootstrap) as instance:
        result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("retention_audit")])
    (mat,) = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert mat.metadata["symbols"].value == len(bootstrap.symbols)
    assert {"store", "export:daily_bars", "export:daily_returns"} <= set(mat.metadata["holders"].value)
    table = mat.metadata["retention"].value
    for symbol in bootstrap.symbols:
        assert f"| store | {symbol} |" in table
        assert f"| export:daily_bars | {symbol} |" in table


@pytest.mark.postgres
@pytest.mark.spark
def test_institutional_spark_export_equals_the_bootstrap_one(bootstrap, institutional, spark_options):
    for settings in (bootstrap, institutional):
        _run(settings, NOV, JAN_END)
    duck, _ = _engine_and_bars(bootstrap)
    spark, _ = _engine_and_bars(institutional)
    assert type(spark).__name__ == "SparkBatch"
    bars_s, bars_d = read_dataset(spark, "daily_bars"), read_dataset(duck, "daily_bars")
    value_columns = ["symbol", "ts", "year", "open", "high", "low", "close", "adj_close", "volume", "source"]
    pd.testing.assert_frame_equal(bars_s[value_columns], bars_d[value_columns], check_dtype=False)
    s, d = read_dataset(spark, "daily_returns"), read_dataset(duck, "daily_returns")
    pd.testing.assert_frame_equal(s[["symbol", "ts"]], d[["symbol", "ts"]], check_dtype=False)
    for column in ("log_return", "realized_vol_20d"):
        np.testing.assert_allclose(s[column], d[column], rtol=0, atol=1e-9)

    # A re-run through Spark keeps every file name (no job uuid in them) and every file's bytes.
    before = {d: file_digests(spark, d) for d in ("daily_bars", "daily_returns")}
    _run(institutional, JAN, JAN_END)
    assert {d: file_digests(spark, d) for d in ("daily_bars", "daily_returns")} == before
