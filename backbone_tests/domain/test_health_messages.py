"""The health topic's message contract: a snapshot survives the topic unchanged, derived figures included."""

from __future__ import annotations

import json

import pytest

from backbone_domain import health_messages
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


def _snapshot() -> HealthSnapshot:
    return HealthSnapshot(
        tier="institutional",
        tier_reason="BACKBONE_MODE=institutional",
        generated_at="2026-12-06T10:30:00.123+00:00",
        components=[Component("store", "up", "timescale"), Component("cache", "unavailable", "redis down")],
        freshness=Freshness("2026-12-04", "2026-12-04", 0, 1, 3, []),
        bars_stored=1234,
        source=SourceAgreement(0, 1),
        latest_run=LatestRun("r1", "2026-12-05T06:00:00+00:00", "2026-12-04..2026-12-04", 95, 5, 0.05),
        cache=CacheFigures("redis", 30, 10, 3, 0.8, 20),
        stream=StreamFigures(
            "kafka",
            "market-data.daily-bars",
            10_000,
            [GroupLag("risk", 5, 4, 2, 90.0, [PartitionLagFigures(0, 4, 90.0), PartitionLagFigures(1, 1, None)])],
            900.0,
        ),
        failures=RunFailures(
            {"daily_bars_job": 1}, [Failure("r0", "daily_bars_job", "2026-12-04T06:01:00", None, "x")]
        ),
        notes=["a note"],
    )


def test_a_snapshot_survives_the_topic_unchanged():
    snap = _snapshot()
    batch = health_messages.message_batch(snap)
    assert batch.keys == [b"institutional"]
    assert batch.headers == {"schema_version": b"1"}
    doc = json.loads(batch.values[0])
    assert (doc["schema_version"], doc["healthy"], doc["cache"]["hit_ratio"]) == (1, False, 0.75)
    back = health_messages.decode(batch.values[0], batch.headers)
    assert back == snap
    assert back.breaches() == snap.breaches()
    assert back.identity == ("institutional",)


def test_an_unknown_schema_version_is_refused():
    with pytest.raises(ValueError, match="unknown health schema_version 2"):
        health_messages.decode(b'{"schema_version": 2}', {})
