"""The layers that write to the store retry an outage (issue 13, D8): daily_bars as daily_bars_raw does."""

from __future__ import annotations

import dagster as dg

from backbone_assets.ingest import OUTAGE_RETRY, build_ingest_assets
from backbone_assets.storage import build_storage_assets


def test_daily_bars_retries_a_store_outage_as_daily_bars_raw_does() -> None:
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01")
    kinds = {"store": {"duckdb"}}
    assets = {
        a.key.to_user_string(): a
        for a in [*build_ingest_assets(partitions, kinds), *build_storage_assets(partitions, kinds)]
    }

    assert assets["daily_bars"].op.retry_policy == OUTAGE_RETRY == assets["daily_bars_raw"].op.retry_policy
    assert OUTAGE_RETRY.max_retries == 2
