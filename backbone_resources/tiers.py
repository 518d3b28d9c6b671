"""The one place that maps settings to resource instances.

Both tiers bind the same resource keys (``source``, ``store``, ``policy``), so the asset graph is identical
and only the backends differ — the way Dagster's reference projects swap local and production resources.
Imports of backends are local: the bootstrap tier never needs psycopg loaded, the institutional one never DuckDB.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import dagster as dg

from backbone_resources.policy import PipelinePolicy
from backbone_resources.settings import ENV_PREFIX, BackboneSettings
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore

log = logging.getLogger("backbone")


def _from_env(settings: BackboneSettings, name: str) -> Any:
    """An EnvVar when the value came from the environment, so the UI shows the variable, not the secret."""
    env_name = f"{ENV_PREFIX}{name.upper()}"
    value = settings.require(name)
    return dg.EnvVar(env_name) if os.environ.get(env_name) == value else value


def build_source(settings: BackboneSettings) -> BarSource:
    if settings.source == "synthetic":
        from backbone_resources.source.synthetic import SyntheticSource

        return SyntheticSource(seed=settings.seed, symbols=settings.symbols)
    if settings.source == "yahoo":
        from backbone_resources.source.yahoo import YahooSource

        return YahooSource(symbols=settings.symbols)
    from backbone_resources.source.files import FileSource

    return FileSource(directory=settings.source.removeprefix("csv:"), symbols=settings.symbols)


def build_store(settings: BackboneSettings) -> BarStore:
    if settings.tier().tier == "institutional":
        from backbone_resources.store.postgres_store import PostgresBarStore

        return PostgresBarStore(
            url=_from_env(settings, "timescale_url"),
            require_timescale=settings.require_timescale,
            pool_size=settings.pg_pool_size,
        )
    from backbone_resources.store.duckdb_store import DuckDBBarStore

    return DuckDBBarStore(path=str((settings.home / "backbone.duckdb").resolve()))


def build_resources(settings: BackboneSettings) -> dict[str, Any]:
    """Resources for the chosen tier; raises SettingsError naming the variable when one is missing."""
    choice = settings.tier()
    resources = {
        "source": build_source(settings),
        "store": build_store(settings),
        "policy": PipelinePolicy(
            tier=choice.tier,
            tier_reason=choice.reason,
            chunk_days=settings.chunk_days,
            freshness_max_lag_days=settings.freshness_max_lag_days,
            rejected_rate_warn=settings.rejected_rate_warn,
        ),
    }
    log.info("backbone tier: %s (%s)", choice.tier, choice.reason)
    return resources
