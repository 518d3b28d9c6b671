"""A layer's watermark on the store's change feed, kept in its own materialization metadata.

Each layer downstream of the store (``weekly_bars``, ``daily_bars_hot_cache``, ``daily_bars_kafka``,
``daily_bars_parquet``) records ``changes_through`` when it materializes; its next run asks the store for the
keys changed since then (``backbone_domain.changes``). A failed run records nothing, so its retry starts from
the same watermark and redoes the same keys. No watermark yet (a new layer, a fresh instance, a materialization
from before the watermark existed): the run works on its whole date range (``upstream_dates``), as before.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from backbone_domain.changes import Changes, first_run, since_watermark
from backbone_resources.store.base import BarStore

WATERMARK = "changes_through"
# The store a watermark was taken on: the instance outlives a store (another BACKBONE_HOME, another database or
# schema under one DAGSTER_HOME), and a watermark read against another store would skip its older bars.
WATERMARK_STORE = "changes_store"


def layer_changes(context: dg.AssetExecutionContext, store: BarStore) -> Changes:
    """The store's changes this layer has not brought up to date yet (see the module doc)."""
    identity = store_identity(store)
    since = previous_watermark(context.instance, context.asset_key, identity)
    if since is None:
        return first_run(dt.datetime.now(dt.UTC), identity)
    return since_watermark(store.keys_changed_since(since), since, identity)


def store_identity(store: BarStore) -> str:
    """Backend, endpoint (no secrets) and schema: which store a watermark belongs to."""
    described = store.describe()
    return " ".join(str(described.get(k, "")) for k in ("backend", "endpoint", "schema")).strip()


def previous_watermark(instance: dg.DagsterInstance, layer: dg.AssetKey, identity: str) -> dt.datetime | None:
    """The ``changes_through`` of the layer's latest materialization, if it recorded one on this store."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=layer), limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    metadata = records[0].asset_materialization.metadata
    if getattr(metadata.get(WATERMARK_STORE), "value", None) != identity:
        return None
    text = getattr(metadata.get(WATERMARK), "value", None)
    return dt.datetime.fromisoformat(text) if isinstance(text, str) else None


def carried_watermark(instance: dg.DagsterInstance, layer: dg.AssetKey, identity: str) -> dict[str, object]:
    """The metadata of a run that changes nothing the layer keeps current (an as_of export): the watermark the
    layer had, so its next run starts from it."""
    since = previous_watermark(instance, layer, identity)
    return {WATERMARK: since.isoformat(), WATERMARK_STORE: identity} if since else {}


def changes_metadata(changes: Changes) -> dict[str, object]:
    """What a layer records of its changes: the next watermark, and what it worked on."""
    span = changes.span()
    return {
        WATERMARK: changes.through.isoformat(),
        WATERMARK_STORE: changes.store,
        "changes_since": changes.since.isoformat() if changes.since else "first run: the whole range",
        "keys_changed": len(changes.keys),
        "keys_retired": len(changes.retired),
        "changed_dates": f"{span[0]}..{span[1]}" if span else "none",
    }
