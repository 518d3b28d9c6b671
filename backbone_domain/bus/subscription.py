"""One subscriber of the bus: its bounded mailbox, its back-pressure policy, its supervised task, its counters.

The plumbing is anyio's (a memory object stream is the mailbox; ``to_thread`` runs a blocking handler) and
tenacity's (the restart backoff); what is written here is only the policy:

- a *required* subscriber's mailbox holds at most ``capacity`` events and the publisher awaits room: the
  publisher slows to the slowest required subscriber and nothing is lost;
- an *optional* subscriber never slows the publisher: when its mailbox is full the oldest event is dropped and
  counted, so it always sees the newest events;
- a handler that raises is logged, counted as a restart and, after a backoff, called again with the same event:
  the subscriber resumes where it crashed, keeps its order and never skips an event it did not accept.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from backbone_domain.bus.topics import Topic

log = logging.getLogger("backbone.bus")
E = TypeVar("E")
Handler = Callable[[E], Awaitable[None] | None]


@dataclass
class SubscriberStats:
    """Counters of one subscriber, as ``EventBus.stats()`` copies them."""

    name: str
    topic: str
    required: bool
    received: int = 0  # events put in its mailbox
    handled: int = 0  # events its handler returned from (accepted)
    restarts: int = 0  # times its handler raised and was called again after a backoff
    dropped: int = 0  # optional subscribers only: oldest events dropped from a full mailbox
    queued: int = 0  # events waiting in its mailbox when the stats were taken
    last_error: str | None = None


class Delivery:
    """One published event's acceptance by the required subscribers of its topic (none: accepted at once)."""

    def __init__(self, required: int) -> None:
        self._waiting = required
        self._done: anyio.Event | None = anyio.Event() if required else None

    @property
    def accepted(self) -> bool:
        return self._waiting == 0

    def accept(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and self._done is not None:
            self._done.set()

    async def wait(self) -> None:
        """Return once every required subscriber has handled the event (may wait forever for a failing one)."""
        if self._done is not None:
            await self._done.wait()


@dataclass(frozen=True)
class Backoff:
    """The wait before a crashed handler is called again: ``initial_s`` doubling up to ``max_s``, plus up to
    ``jitter_s`` at random (so subscribers failing together do not retry together); reset by the next event."""

    initial_s: float = 0.1
    max_s: float = 30.0
    jitter_s: float = 0.1


class Subscription(Generic[E]):
    """A handler subscribed to a topic: its mailbox and the task that feeds the handler from it."""

    def __init__(
        self, topic: Topic[E], handler: Handler[E], name: str, required: bool, capacity: int, backoff: Backoff
    ) -> None:
        if capacity < 1:
            raise ValueError(f"subscriber {name}: queue size must be at least 1, got {capacity}")
        self.topic, self.handler, self.required, self.backoff = topic, handler, required, backoff
        self.stats = SubscriberStats(name, topic.name, required)
        self.capacity = capacity
        self._call = _awaitable(handler)
        self._send: MemoryObjectSendStream[tuple[E, Delivery | None]] | None = None
        self._receive: MemoryObjectReceiveStream[tuple[E, Delivery | None]] | None = None

    @property
    def name(self) -> str:
        return self.stats.name

    def snapshot(self) -> SubscriberStats:
        queued = self._send.statistics().current_buffer_used if self._send is not None else 0
        return replace(self.stats, queued=queued)

    def open(self) -> None:
        """A fresh mailbox, when the bus starts (or the subscriber joins a running bus)."""
        self._send, self._receive = anyio.create_memory_object_stream[tuple[E, Delivery | None]](self.capacity)

    async def put(self, event: E, delivery: Delivery) -> None:
        """Queue ``event``: a required subscriber's full mailbox makes the caller wait; an optional one's drops its
        oldest event."""
        assert self._send is not None, "the bus opens the mailbox before anything is published"
        assert self._receive is not None
        self.stats.received += 1
        if self.required:
            await self._send.send((event, delivery))
            return
        try:
            self._send.send_nowait((event, None))
        except anyio.WouldBlock:
            self._receive.receive_nowait()  # no await between the two calls: no other task can take the room
            self.stats.dropped += 1
            self._send.send_nowait((event, None))

    def close(self) -> None:
        """Release the mailbox (the bus has closed): events still in it were not accepted."""
        if self._send is not None and self._receive is not None:
            self._send.close()
            self._receive.close()
        self._send = self._receive = None

    async def run(self) -> None:
        """Hand each event to the handler in mailbox order, until cancelled (the bus closing)."""
        assert self._receive is not None
        async for event, delivery in self._receive:
            await self._handle(event)
            self.stats.handled += 1
            if delivery is not None:
                delivery.accept()

    async def _handle(self, event: E) -> None:
        """Call the handler until it accepts ``event``; each failure is logged, counted and waited out."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),  # cancellation (the bus closing) is not retried
            wait=wait_exponential_jitter(self.backoff.initial_s, self.backoff.max_s, jitter=self.backoff.jitter_s),
            before_sleep=self._crashed,
            sleep=anyio.sleep,
        )
        async for attempt in retrying:
            with attempt:
                await self._call(event)

    def _crashed(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        self.stats.restarts += 1
        self.stats.last_error = f"{type(error).__name__}: {error}"
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "subscriber %s of %s raised (%s); restart %d in %.2f s with the same event",
            self.name,
            self.topic.name,
            self.stats.last_error,
            self.stats.restarts,
            wait,
            exc_info=error,
        )


def _awaitable(handler: Handler[E]) -> Callable[[E], Awaitable[None]]:
    """An async handler is awaited in the event loop; a plain one runs in a worker thread, so a blocking call
    (Redis, a file, a print to a slow pipe) never stalls the publisher or the other subscribers."""
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(getattr(handler, "__call__", None)):  # noqa: B004
        return handler  # type: ignore[return-value]

    async def in_thread(event: E) -> None:
        await anyio.to_thread.run_sync(handler, event)

    return in_thread
