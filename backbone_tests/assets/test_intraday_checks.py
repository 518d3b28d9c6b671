"""daily_bars_match_intraday through a real run on bootstrap: the day's stored minutes against its daily bar."""

import datetime as dt

import dagster as dg

from backbone_domain.intraday_bars import intraday_frame
from backbone_domain.intraday_replay import session_bars
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.source.synthetic import SyntheticSource
from backbone_tests.assets.conftest import SYMBOLS

DAY = dt.date(2024, 1, 3)


def _evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "daily_bars_match_intraday"]
    return found


def test_a_minute_that_disagrees_with_the_daily_bar_warns_naming_the_symbol(bootstrap) -> None:
    minutes = intraday_frame(session_bars(SyntheticSource(symbols=SYMBOLS).fetch_intraday(DAY, interval_minutes=30)))
    aapl = minutes.index[minutes["symbol"] == "AAPL"]
    minutes.loc[aapl[-1], "close"] += 0.5  # the day's last AAPL bar closes elsewhere than the daily bar
    with all_resources(bootstrap) as resources:
        resources.store.write_intraday(minutes)

    result = runner.materialize(bootstrap, DAY, DAY, ["daily_bars_raw", "daily_bars"])

    assert result.success  # WARN: the run stands
    found = _evaluation(result)
    assert found.passed is False
    assert found.severity == dg.AssetCheckSeverity.WARN
    metadata = {k: v.value for k, v in found.metadata.items()}
    assert (metadata["session"], metadata["compared_symbols"], metadata["mismatching_symbols"]) == (str(DAY), 2, 1)
    assert list(metadata["mismatches"]) == ["AAPL"]
    assert "close" in metadata["mismatches"]["AAPL"]
    assert found.description.startswith("2024-01-03: 1 of 2 symbols differ: AAPL: aggregate vs daily: close ")
