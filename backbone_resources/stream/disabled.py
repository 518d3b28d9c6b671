"""The stream when BACKBONE_STREAMING_ENABLED=false: the asset graph keeps its shape, nothing is published."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from backbone_resources.probe import Probe
from backbone_resources.stream.base import (
    MessageBatch,
    PartitionLag,
    PublishReport,
    StreamConsumer,
    StreamDisabled,
    StreamResource,
    TopicReport,
)

_WHY = "streaming disabled (BACKBONE_STREAMING_ENABLED=false)"


class DisabledStream(StreamResource):
    kinds: ClassVar[tuple[str, ...]] = ("python",)  # the asset only reports that it published nothing

    @property
    def enabled(self) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        return {"backend": "disabled"}

    def probe(self) -> Probe:
        return Probe("disabled", "disabled", _WHY)

    def ensure_topic(self) -> TopicReport:
        raise StreamDisabled(_WHY)

    def publish(self, batches: Iterable[MessageBatch]) -> PublishReport:
        raise StreamDisabled(_WHY)

    def end_offsets(self, read_back: bool = False) -> dict[int, int]:
        return {}

    @contextmanager
    def consumer(self, group: str) -> Iterator[StreamConsumer]:
        raise StreamDisabled(_WHY)
        yield  # pragma: no cover - makes this a generator

    def lag(self, group: str) -> list[PartitionLag]:
        return []
