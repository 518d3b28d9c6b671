"""The runtime's in-process event bus: named, typed topics; per-subscriber bounded mailboxes; supervised
subscriber tasks (``subscription.py`` states the back-pressure and restart policy).

Embed it in an asyncio (or any anyio) program::

    bus = EventBus()
    bus.subscribe(BARS_DAILY, on_bar, name="risk")  # required: the bridge commits only what it accepted
    bus.subscribe(BARS_DAILY, on_bar_for_ui, name="ui", required=False, queue_size=100)
    async with bus:
        delivery = await bus.publish(BARS_DAILY, bar)
        await delivery.wait()

Leaving the ``async with`` block cancels the subscriber tasks: events they had not handled are not accepted
(``drain`` first to let them finish). One publisher's events reach each subscriber in publish order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from backbone_domain.bus.subscription import Backoff, Delivery, Handler, SubscriberStats, Subscription
from backbone_domain.bus.topics import Topic

E = TypeVar("E")
DEFAULT_QUEUE_SIZE = 1000


@dataclass(frozen=True)
class BusStats:
    """A copy of the bus's counters: events published per topic and each subscriber's counters by name."""

    published: Mapping[str, int]
    subscribers: Mapping[str, SubscriberStats]

    @property
    def restarts(self) -> int:
        return sum(s.restarts for s in self.subscribers.values())

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.subscribers.values())


class EventBus:
    """Topics -> subscribers. ``publish`` returns a ``Delivery`` that completes when every required subscriber
    of the topic has handled the event."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE, backoff: Backoff | None = None) -> None:
        self.queue_size, self.backoff = queue_size, backoff or Backoff()
        self._subscriptions: dict[str, list[Subscription[Any]]] = {}
        self._published: Counter[str] = Counter()
        self._tasks: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None

    def subscribe(
        self,
        topic: Topic[E],
        handler: Handler[E],
        *,
        name: str | None = None,
        required: bool = True,
        queue_size: int | None = None,
    ) -> SubscriberStats:
        """Subscribe ``handler`` (sync: run in a worker thread; async: awaited) to ``topic`` under a unique name.

        Required subscribers hold the publisher back when their mailbox is full and gate ``Delivery``; optional
        ones drop their oldest event instead and are never waited for. Returns the subscriber's live counters.
        """
        name = name or getattr(handler, "__qualname__", None) or type(handler).__qualname__
        if any(s.name == name for subs in self._subscriptions.values() for s in subs):
            raise ValueError(f"a subscriber named {name!r} is already subscribed")
        sub = Subscription(topic, handler, name, required, queue_size or self.queue_size, self.backoff)
        self._subscriptions.setdefault(topic.name, []).append(sub)
        if self._tasks is not None:
            sub.open()
            self._tasks.start_soon(sub.run, name=f"subscriber {name}")
        return sub.stats

    async def publish(self, topic: Topic[E], event: E) -> Delivery:
        """Put ``event`` in the mailbox of every subscriber of ``topic``; waits while a required one is full.

        Raises TypeError for an event that is not the topic's type, RuntimeError when the bus is not running.
        """
        if not isinstance(event, topic.event_type):
            raise TypeError(f"{topic.name} carries {topic.event_type.__name__}, not {type(event).__name__}")
        if self._tasks is None:
            raise RuntimeError("the bus is not running: publish inside `async with bus:`")
        subs = self._subscriptions.get(topic.name, [])
        delivery = Delivery(sum(s.required for s in subs))
        for sub in subs:
            await sub.put(event, delivery)
        self._published[topic.name] += 1
        return delivery

    async def drain(self, poll_s: float = 0.01) -> None:
        """Wait until every subscriber has handled (or, if optional, dropped) everything it received."""
        subs = [s for group in self._subscriptions.values() for s in group]
        while any(s.stats.received > s.stats.handled + s.stats.dropped for s in subs):
            await anyio.sleep(poll_s)

    def stats(self) -> BusStats:
        subs = {s.name: s.snapshot() for group in self._subscriptions.values() for s in group}
        return BusStats(dict(self._published), subs)

    @property
    def running(self) -> bool:
        return self._tasks is not None

    async def __aenter__(self) -> EventBus:
        if self._stack is not None:
            raise RuntimeError("the bus is already running")
        async with AsyncExitStack() as stack:
            stack.callback(self._closed)  # after the task group has exited: no subscriber task is left running
            self._tasks = await stack.enter_async_context(anyio.create_task_group())
            for group in self._subscriptions.values():
                for sub in group:
                    sub.open()
                    self._tasks.start_soon(sub.run, name=f"subscriber {sub.name}")
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._stack is not None, "the bus is not running"
        assert self._tasks is not None
        self._tasks.cancel_scope.cancel()
        stack, self._stack = self._stack, None
        return await stack.__aexit__(exc_type, exc, tb)

    def _closed(self) -> None:
        self._tasks = None
        for group in self._subscriptions.values():
            for sub in group:
                sub.close()
