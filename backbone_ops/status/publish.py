"""Health events: a measured snapshot published on the health topic (``BACKBONE_HEALTH_TOPIC``).

The snapshot is the one ``backbone status`` measures (``measure.measure``), so the event, ``status.json`` and
``metrics.prom`` never disagree. The topic lives on the tier's stream backend (the local log on bootstrap, Kafka
on institutional); a runtime puts the events on its event bus's ``telemetry.ingest.health`` with
``BusBridge(stream, group, bus, topic=INGEST_HEALTH)`` over a stream on that topic (docs/telemetry.md).
"""

from __future__ import annotations

from backbone_domain import health_messages
from backbone_domain.health import HealthSnapshot
from backbone_ops.resources import tier_resources
from backbone_resources.settings import BackboneSettings
from backbone_resources.stream.base import PublishReport


def on_health_topic(settings: BackboneSettings) -> BackboneSettings:
    """``settings`` with the health topic in place of the daily one: the tier's stream built from them is the
    health topic's."""
    return settings.model_copy(update={"stream": settings.stream.for_health()})


def publish_health(snapshot: HealthSnapshot, settings: BackboneSettings) -> PublishReport | None:
    """Publish ``snapshot`` as one message (key = tier), confirmed like every publish; None when streaming is
    off (nothing to publish to). Raises StreamUnavailable when the stream does not take it."""
    with tier_resources(on_health_topic(settings), "stream") as built:
        stream = built.stream
        if not stream.enabled:
            return None
        stream.ensure_topic()
        return stream.publish([health_messages.message_batch(snapshot)])
