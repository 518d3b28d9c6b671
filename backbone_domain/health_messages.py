"""The message contract of a health snapshot on the health topic (``BACKBONE_HEALTH_TOPIC``), and back.

Key = the tier, so one deployment's snapshots share a partition and keep their order. Value = ``status.json``'s
document (``HealthSnapshot.to_dict``: the figures plus the derived ones, so a consumer needs no settings) with a
``schema_version``. ``decode`` rebuilds the ``HealthSnapshot`` the bus's ``telemetry.ingest.health`` carries;
the derived figures are recomputed from the dataclasses, never read back, so they cannot disagree.
"""

from __future__ import annotations

import json
from typing import Any, Final

from backbone_domain.health import (
    CacheFigures,
    Component,
    Failure,
    Freshness,
    GroupLag,
    HealthSnapshot,
    LatestRun,
    PartitionLagFigures,
    RunFailures,
    SourceAgreement,
    StreamFigures,
)
from backbone_domain.message_batch import MessageBatch
from backbone_domain.replica_lag import ReplicaLag

SCHEMA_VERSION: Final = 1
# status.json's figures derived from the others: written for readers, dropped when a snapshot is rebuilt
_DERIVED: Final = {
    "latest_run": ("rows_ingested", "rejected_rate"),
    "cache": ("reads", "hit_ratio"),
    "failures": ("total",),
}


def headers() -> dict[str, bytes]:
    return {"schema_version": str(SCHEMA_VERSION).encode()}


def message_batch(snapshot: HealthSnapshot) -> MessageBatch:
    """The one record of ``snapshot``: key = tier, value = the status.json document with ``schema_version``."""
    doc = {"schema_version": SCHEMA_VERSION, **snapshot.to_dict()}
    value = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    return MessageBatch([snapshot.tier.encode()], [value], headers())


def decode(value: bytes, record_headers: dict[str, bytes]) -> HealthSnapshot:
    """The snapshot in a message; raises ValueError for a schema version this code does not know."""
    doc = json.loads(value)
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"unknown health schema_version {doc.get('schema_version')!r}")
    return from_dict(doc)


def from_dict(doc: dict[str, Any]) -> HealthSnapshot:
    """A ``HealthSnapshot`` from its ``to_dict`` document (status.json)."""
    for part, names in _DERIVED.items():
        if doc.get(part) is not None:
            doc[part] = {k: v for k, v in doc[part].items() if k not in names}
    stream = doc.get("stream")
    failures = doc["failures"]
    return HealthSnapshot(
        tier=doc["tier"],
        tier_reason=doc["tier_reason"],
        generated_at=doc["generated_at"],
        components=[Component(**c) for c in doc["components"]],
        freshness=_maybe(Freshness, doc.get("freshness")),
        bars_stored=doc.get("bars_stored"),
        source=_maybe(SourceAgreement, doc.get("source")),
        latest_run=_maybe(LatestRun, doc.get("latest_run")),
        cache=_maybe(CacheFigures, doc.get("cache")),
        stream=None
        if stream is None
        else StreamFigures(
            **{
                **stream,
                "groups": [
                    GroupLag(**{**g, "by_partition": [PartitionLagFigures(**p) for p in g.get("by_partition", [])]})
                    for g in stream["groups"]
                ],
            }
        ),
        failures=RunFailures(
            by_job=failures["by_job"],
            latest=[Failure(**f) for f in failures["latest"]],
            unreadable_lines=failures.get("unreadable_lines", 0),
        ),
        replica=_maybe(ReplicaLag, doc.get("replica")),
        notes=list(doc.get("notes", [])),
    )


def _maybe(cls: type[Any], part: dict[str, Any] | None) -> Any:
    return None if part is None else cls(**part)
