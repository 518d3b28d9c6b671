"""The stream bridge feeding the event bus, with commit-after-handle.

``BusBridge`` is ``bridge.Bridge`` (poll, decode, version filter, commit, SIGTERM, idle timeout) with its hand-off
replaced: each new bar of a batch is published on ``bars.daily`` (``bars.intraday`` when fed from the intraday
topic) and the batch is committed once every required subscriber has accepted every one of its bars. A required
subscriber that raises is restarted by the bus and retried with the same bar, so the bridge simply waits: nothing
is committed past that bar. On stop (SIGTERM, ``stop()``, cancellation) it waits ``stop_grace_s`` for the batch in
hand, then commits, per partition, only the records before the first bar a required subscriber has not accepted;
the rest is redelivered to the next run.

The consumer (a librdkafka handle or a SQLite connection) must stay on one thread, so the bridge's loop runs in
one worker thread and each batch is handed to the event loop with ``anyio.from_thread``.
"""

from __future__ import annotations

import signal
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import CancelScope

from backbone_domain import bar_messages, health_messages, intraday_messages
from backbone_domain.bar_messages import BarMessage
from backbone_domain.bridge import Bridge, BridgeReport
from backbone_domain.bus.bus import EventBus
from backbone_domain.bus.subscription import Delivery
from backbone_domain.bus.topics import BARS_DAILY, BARS_INTRADAY, INGEST_HEALTH, Topic
from backbone_domain.health import HealthSnapshot
from backbone_domain.intraday_messages import IntradayBar

if TYPE_CHECKING:
    from backbone_resources.stream.base import Record, StreamResource

STOP_POLL_S = 0.1  # how often the hand-off looks at the bridge's stop flag (a threading.Event)
_UNPUBLISHED = object()  # a bar the hand-off gave up before publishing
# the bus topics a stream topic can feed, with the message contract of each
DECODERS: dict[str, Any] = {
    BARS_DAILY.name: bar_messages.decode,
    BARS_INTRADAY.name: intraday_messages.decode,
    INGEST_HEALTH.name: health_messages.decode,  # a stream on BACKBONE_HEALTH_TOPIC
}
Bar = BarMessage | IntradayBar | HealthSnapshot  # what a record decodes to (health: not a bar, versioned alike)


class BusBridge(Bridge):
    """Feeds ``bus`` from ``group``'s position on the stream; ``await feed()`` inside ``async with bus:``.

    ``topic``: ``BARS_DAILY`` (the daily topic's stream), ``BARS_INTRADAY`` (a stream on the intraday topic,
    ``StreamSettings.for_intraday``) or ``INGEST_HEALTH`` (the health topic, ``StreamSettings.for_health``); the
    records are decoded with that topic's message contract. Health snapshots pass the same version filter:
    per tier, only a snapshot newer than the newest handled.
    """

    def __init__(
        self,
        stream: StreamResource,
        group: str,
        bus: EventBus,
        batch_size: int = 500,
        stop_grace_s: float = 10.0,
        topic: Topic[Any] = BARS_DAILY,
    ) -> None:
        if topic.name not in DECODERS:
            raise ValueError(f"no stream carries {topic.name}: a bridge feeds {', '.join(DECODERS)}")
        super().__init__(stream, group, None, batch_size, decoder=DECODERS[topic.name])
        self.bus, self.stop_grace_s, self.topic = bus, stop_grace_s, topic

    async def feed(self, idle_timeout_s: float | None = None, max_records: int | None = None) -> BridgeReport:
        """Run the bridge until stopped (SIGTERM in the main thread, ``stop()``, this task's cancellation),
        ``idle_timeout_s`` without records, or ``max_records``."""
        if not self.bus.running:
            raise RuntimeError("the bus is not running: feed it inside `async with bus:`")
        previous = self._install_sigterm()  # the loop's own install is skipped: it runs in a worker thread
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._stop_when_cancelled)
                report = await anyio.to_thread.run_sync(partial(self.run, idle_timeout_s, max_records))
                tasks.cancel_scope.cancel()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        return report

    async def _stop_when_cancelled(self) -> None:
        """A cancelled ``feed`` cannot interrupt its worker thread: it asks the loop to stop instead."""
        try:
            await anyio.sleep_forever()
        finally:
            self.stop()

    def _hand_off(self, records: list[Record], bars: list[Bar], fresh: list[Bar]) -> tuple[list[Record], list[Bar]]:
        return anyio.from_thread.run(self._publish_and_wait, records, bars, fresh)

    async def _publish_and_wait(
        self, records: list[Record], bars: list[Bar], fresh: list[Bar]
    ) -> tuple[list[Record], list[Bar]]:
        new = {id(bar) for bar in fresh}
        deliveries: list[Delivery | None] = []  # None: a copy or an out-of-date version, nothing to wait for
        with anyio.CancelScope() as gave_up:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._give_up_after_stop, gave_up)
                for bar in bars:
                    deliveries.append(await self.bus.publish(self.topic, bar) if id(bar) in new else None)
                for delivery in deliveries:
                    if delivery is not None:
                        await delivery.wait()
                tasks.cancel_scope.cancel()
        return accepted_prefix(records, bars, deliveries)

    async def _give_up_after_stop(self, scope: CancelScope) -> None:
        while not self._stop.is_set():
            await anyio.sleep(STOP_POLL_S)
        await anyio.sleep(self.stop_grace_s)
        scope.cancel()


def accepted_prefix(
    records: list[Record], bars: list[Bar], deliveries: list[Delivery | None]
) -> tuple[list[Record], list[Bar]]:
    """The records that may be committed and the new bars handled: per partition, every record up to the first
    one whose bar was not published (``deliveries`` is shorter) or not yet accepted by every required subscriber.
    Committing a partition's offset commits everything before it, so nothing after that record may be included.
    """
    blocked: set[int] = set()
    done: list[Record] = []
    handled: list[Bar] = []
    for at, (record, bar) in enumerate(zip(records, bars, strict=True)):
        if record.partition in blocked:
            continue
        delivery = deliveries[at] if at < len(deliveries) else _UNPUBLISHED
        if delivery is _UNPUBLISHED or (delivery is not None and not delivery.accepted):
            blocked.add(record.partition)
            continue
        done.append(record)
        if delivery is not None:
            handled.append(bar)
    return done, handled
