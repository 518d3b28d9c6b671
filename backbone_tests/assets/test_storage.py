"""The layers that write to the store: outages retried (issue 13, D8) as daily_bars_raw does; versions pruned
once a run past BACKBONE_VERSION_RETENTION_DAYS (issue 14)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from backbone_assets.bars_flow import build_bars_flow
from backbone_assets.ingest import OUTAGE_RETRY
from backbone_domain.bars import empty_rejected
from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_resources
from backbone_tests.builders import T1, bars, week
from backbone_tests.clock import TODAY


def test_daily_bars_retries_a_store_outage_as_daily_bars_raw_does() -> None:
    """One step builds both (``bars_flow``), so one retry policy covers both."""
    flow = build_bars_flow(dg.DailyPartitionsDefinition(start_date="2024-01-01"), {"store": {"duckdb"}})

    assert {key.to_user_string() for key in flow.keys} == {"daily_bars_raw", "daily_bars"}
    assert flow.op.retry_policy == OUTAGE_RETRY
    assert OUTAGE_RETRY.max_retries == 2


def test_daily_bars_prunes_versions_past_the_retention_once_a_run(tmp_path) -> None:
    """BACKBONE_VERSION_RETENTION_DAYS=30: a version superseded in 2024 goes in the next run of daily_bars (a
    partition of its own: nothing there to correct), and the run's metadata says how many went and from when."""
    settings = load_settings(mode="bootstrap", home=tmp_path, symbols=["AAPL"], today=TODAY, version_retention_days=30)
    resources = build_resources(settings)
    store = resources["store"]
    days = week(3)
    first = bars(["AAPL"], days, ingested_at=T1)
    store.write_validated(days[0], days[-1], first, empty_rejected())
    store.write_validated(
        days[0],
        days[-1],
        first.assign(close=first["close"] + 1, ingested_at=T1 + pd.Timedelta(days=1)),
        empty_rejected(),
    )
    assert store.version_counts().superseded == 3
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01")
    flow = build_bars_flow(partitions, {"store": {"duckdb"}})

    result = dg.materialize([flow], resources=resources, partition_key="2024-02-01", selection=["daily_bars"])

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.event_specific_data.materialization.metadata
    assert (metadata["versions_pruned"].value, metadata["loads_pruned"].value) == (3, 0)
    kept_from = dt.datetime.fromisoformat(str(metadata["versions_kept_from"].value))
    assert dt.timedelta(days=30) <= dt.datetime.now(dt.UTC) - kept_from < dt.timedelta(days=30, minutes=5)
    assert store.version_counts().superseded == 0
    assert store.read_bars(days[0], days[-1])["close"].tolist() == (first["close"] + 1).tolist()
