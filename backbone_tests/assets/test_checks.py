"""The daily_bars checks through real runs on bootstrap: the quality checks share one pass over the store and
their blocking ones hold back the layers downstream."""

import datetime as dt

import dagster as dg

from backbone_domain.bars import empty_rejected
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_tests.builders import bars

FIRST, LAST = dt.date(2024, 1, 2), dt.date(2024, 1, 12)


def _verdicts(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_quality_verdicts_pass_on_clean_data(bootstrap) -> None:
    result = runner.materialize(bootstrap, FIRST, LAST, ["daily_bars_raw", "daily_bars"])

    assert result.success
    verdicts = _verdicts(result)
    assert {k: verdicts[k] for k in ("daily_bars_unique_keys", "daily_bars_ohlc_consistent")} == {
        "daily_bars_unique_keys": True,
        "daily_bars_ohlc_consistent": True,
    }
    assert verdicts["daily_bars_rejected_rate"] is True


def test_a_failed_blocking_check_holds_back_the_layers_downstream(bootstrap) -> None:
    broken = bars(["ZZZZ"], [dt.date(2024, 1, 3)])  # a symbol no run rewrites
    broken[["high", "low"]] = broken[["low", "high"]].to_numpy()  # high below low: what validation never lets in
    with all_resources(bootstrap) as resources:
        resources.store.write_validated(FIRST, LAST, broken, empty_rejected())

    result = runner.materialize(bootstrap, FIRST, LAST, ["daily_bars_raw", "daily_bars", "weekly_bars"])

    verdicts = _verdicts(result)
    assert verdicts["daily_bars_ohlc_consistent"] is False
    assert verdicts["daily_bars_unique_keys"] is True
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "daily_bars" in materialized
    assert "weekly_bars" not in materialized  # held back by the blocking check
