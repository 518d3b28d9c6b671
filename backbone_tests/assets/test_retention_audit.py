"""retention_audit's version figures (issue 14, item 4): the versions the store keeps, and a layer holding a bar
version the store has neither current nor kept is flagged. In process, on the bootstrap tier."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from backbone_assets.definitions import build_defs
from backbone_domain.bars import empty_rejected
from backbone_ops import runner
from backbone_ops.resources import all_resources

pytestmark = pytest.mark.slow

JAN, JAN_END = dt.date(2021, 1, 4), dt.date(2021, 1, 29)


def _audit(settings) -> dict[str, object]:
    job = build_defs(settings).resolve_implicit_global_asset_job_def()
    with runner.instance(settings) as instance:
        result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("retention_audit")])
    (mat,) = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    return {name: value.value for name, value in mat.metadata.items()}


def test_retention_audit_counts_the_store_versions_and_flags_a_cache_holding_an_unknown_one(bootstrap):
    assert runner.materialize(bootstrap, JAN, JAN_END).success  # every layer, the hot cache included
    with all_resources(bootstrap) as resources:
        stored = resources.store.read_bars(JAN, JAN_END)
        cached = resources.cache.latest_cached()
    assert len(cached) == len(bootstrap.symbols)

    clean = _audit(bootstrap)

    assert clean["store_current_bars"] == len(stored)
    assert (clean["store_superseded_versions"], clean["store_oldest_superseded_at"]) == (0, "none kept")
    assert clean["layers_with_unknown_versions"] == []
    assert f"| cache | {len(cached)} | 0 |" in str(clean["versions_per_layer"])

    # The cache keeps a version of AAPL's newest bar that the store never had (or no longer has).
    aapl = stored[stored["symbol"] == "AAPL"]
    with all_resources(bootstrap) as resources:
        resources.cache.replace_symbols(aapl.assign(ingested_at=aapl["ingested_at"] - pd.Timedelta(days=30)))

    flagged = _audit(bootstrap)

    assert flagged["layers_with_unknown_versions"] == ["cache"]
    newest = aapl["ts"].max().date()
    assert f"| cache | {len(cached)} | 1 | AAPL {newest} ingested" in str(flagged["versions_per_layer"])
    assert f"| export:daily_bars | {len(stored)} | 0 |" in str(clean["versions_per_layer"])


def test_an_export_holding_a_version_the_store_pruned_is_flagged(bootstrap):
    assert runner.materialize(bootstrap, JAN, JAN_END).success  # the export holds every bar's first version
    with all_resources(bootstrap) as resources:
        stored = resources.store.read_bars(JAN, JAN_END)
        # EURUSD's first bar corrected in the store only (the export not re-run), then the replaced version pruned
        first = stored[stored["symbol"] == "EURUSD"].head(1)
        corrected = first.assign(close=first["close"] + 1.0, ingested_at=pd.Timestamp.now(tz="UTC"))
        day = first["ts"].iloc[0].date()
        resources.store.write_validated(day, day, corrected, empty_rejected())
        kept = _audit(bootstrap)
        resources.store.prune_versions(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))

    assert kept["layers_with_unknown_versions"] == []  # the replaced version is still kept: traceable
    pruned = _audit(bootstrap)
    assert pruned["layers_with_unknown_versions"] == ["export:daily_bars"]
    assert f"| export:daily_bars | {len(stored)} | 1 | EURUSD {day} ingested" in str(pruned["versions_per_layer"])
