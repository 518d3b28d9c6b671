"""The bus's named topics and the one event type each carries.

A topic is a name plus a type, so ``EventBus.publish`` refuses an event of the wrong type at the publisher (where
the mistake is) rather than in a subscriber (where it would crash, be restarted and crash again), and a
subscriber's handler is typed by the topic it subscribes to. Events are frozen dataclasses: one event object is
handed to every subscriber of its topic, so none may change it under the others.

The type is named as ``"module:Class"`` and imported on first publish: a runtime that embeds the bus for
intraday bars (``backbone_domain.intraday_messages``, plain json) does not import pandas, DuckDB and the
validation rules the daily bars and health snapshot need.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from backbone_domain.intraday_messages import IntradayBar  # light (json only): re-exported for the bus's users

if TYPE_CHECKING:
    from backbone_domain.bar_messages import BarMessage
    from backbone_domain.health import HealthSnapshot

E = TypeVar("E")


@dataclass(frozen=True)
class Topic(Generic[E]):
    """A named topic whose events are all of the type ``type_ref`` ("module:Class") names."""

    name: str
    type_ref: str
    _type: list[type[Any]] = field(default_factory=list, repr=False, compare=False)

    @property
    def event_type(self) -> type[E]:
        if not self._type:
            module, _, attribute = self.type_ref.partition(":")
            self._type.append(getattr(importlib.import_module(module), attribute))
        return self._type[0]

    def __str__(self) -> str:
        return self.name


BARS_DAILY: Topic[BarMessage] = Topic("bars.daily", "backbone_domain.bar_messages:BarMessage")
BARS_INTRADAY: Topic[IntradayBar] = Topic("bars.intraday", "backbone_domain.intraday_messages:IntradayBar")
INGEST_HEALTH: Topic[HealthSnapshot] = Topic("telemetry.ingest.health", "backbone_domain.health:HealthSnapshot")
TOPICS: tuple[Topic[Any], ...] = (BARS_DAILY, BARS_INTRADAY, INGEST_HEALTH)
