"""The runtime's event bus (docs/streaming.md, "The runtime event bus"): ``EventBus``, its topics and events."""

from backbone_domain.bus.bus import BusStats, EventBus
from backbone_domain.bus.subscription import Backoff, Delivery, Handler, SubscriberStats
from backbone_domain.bus.topics import BARS_DAILY, BARS_INTRADAY, INGEST_HEALTH, TOPICS, IntradayBar, Topic

__all__ = [
    "BARS_DAILY",
    "BARS_INTRADAY",
    "INGEST_HEALTH",
    "TOPICS",
    "Backoff",
    "BusStats",
    "Delivery",
    "EventBus",
    "Handler",
    "IntradayBar",
    "SubscriberStats",
    "Topic",
]
