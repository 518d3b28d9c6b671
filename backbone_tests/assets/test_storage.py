"""The layers that write to the store: outages retried (issue 13, D8) as daily_bars_raw does; versions pruned
once a run past BACKBONE_VERSION_RETENTION_DAYS (issue 14)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from backbone_assets.ingest import OUTAGE_RETRY, build_ingest_assets
from backbone_assets.storage import build_storage_assets
from backbone_domain.bars import empty_rejected
from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_resources
from backbone_tests.builders import T1, bars, week
from backbone_tests.clock import TODAY


def test_daily_bars_retries_a_store_outage_as_daily_bars_raw_does() -> None:
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01")
    kinds = {"store": {"duckdb"}}
    assets = {
        a.key.to_user_string(): a
        for a in [*build_ingest_assets(partitions, kinds), *build_storage_assets(partitions, kinds)]
    }

    assert assets["daily_bars"].op.retry_policy == OUTAGE_RETRY == assets["daily_bars_raw"].op.retry_policy
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
    daily_bars = next(
        a for a in build_storage_assets(partitions, {"store": {"duckdb"}}) if a.key.path[-1] == "daily_bars"
    )

    result = dg.materialize([daily_bars], resources=resources, partition_key="2024-02-01")

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.event_specific_data.materialization.metadata
    assert (metadata["versions_pruned"].value, metadata["loads_pruned"].value) == (3, 0)
    kept_from = dt.datetime.fromisoformat(str(metadata["versions_kept_from"].value))
    assert dt.timedelta(days=30) <= dt.datetime.now(dt.UTC) - kept_from < dt.timedelta(days=30, minutes=5)
    assert store.version_counts().superseded == 0
    assert store.read_bars(days[0], days[-1])["close"].tolist() == (first["close"] + 1).tolist()
