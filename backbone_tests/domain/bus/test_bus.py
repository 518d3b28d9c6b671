"""The event bus alone: order per subscriber, supervision of a crashing subscriber, back-pressure, typed topics."""

from __future__ import annotations

import random
import threading

import anyio
import pytest

from backbone_domain.bar_messages import BarMessage
from backbone_domain.bus import BARS_DAILY, BARS_INTRADAY, Backoff, EventBus
from backbone_tests.builders import bar_message as bar

pytestmark = pytest.mark.anyio
FAST = Backoff(initial_s=0.01, max_s=0.05, jitter_s=0.0)
SYMBOLS = ("AAPL", "MSFT", "EURUSD=X")


def _per_symbol(bars: list[BarMessage]) -> dict[str, list[int]]:
    days: dict[str, list[int]] = {}
    for b in bars:
        days.setdefault(b.symbol, []).append(int(b.close))
    return days


async def test_two_subscribers_see_each_symbols_bars_in_publish_order() -> None:
    rng = random.Random(7)
    in_loop: list[BarMessage] = []
    in_thread: list[BarMessage] = []
    threads: set[str] = set()

    async def jittery(event: BarMessage) -> None:  # yields at random, so concurrent handling would reorder
        await anyio.sleep(rng.choice((0, 0, 0.001)))
        in_loop.append(event)

    def blocking(event: BarMessage) -> None:  # a plain function runs in a worker thread
        threads.add(threading.current_thread().name)
        in_thread.append(event)

    bus = EventBus(queue_size=8)  # smaller than the stream: the publisher waits on both, order must survive it
    bus.subscribe(BARS_DAILY, jittery, name="jittery")
    bus.subscribe(BARS_DAILY, blocking, name="blocking")
    published = [bar(s, d) for d in range(40) for s in SYMBOLS]
    async with bus:
        deliveries = [await bus.publish(BARS_DAILY, b) for b in published]
        with anyio.fail_after(3):
            for delivery in deliveries:
                await delivery.wait()

    expected = {s: list(range(40)) for s in SYMBOLS}
    assert _per_symbol(in_loop) == expected
    assert _per_symbol(in_thread) == expected
    assert threading.main_thread().name not in threads
    stats = bus.stats()
    assert stats.published == {"bars.daily": 120}
    assert {n: (s.received, s.handled, s.restarts) for n, s in stats.subscribers.items()} == {
        "jittery": (120, 120, 0),
        "blocking": (120, 120, 0),
    }


async def test_a_subscriber_that_raises_is_restarted_and_counted_while_the_other_sees_every_event(caplog) -> None:
    healed = anyio.Event()
    flaky_seen: list[int] = []
    steady_seen: list[int] = []

    async def flaky(event: BarMessage) -> None:
        if event.close == 4 and not healed.is_set():
            raise ConnectionError("risk engine unreachable")
        flaky_seen.append(int(event.close))

    async def steady(event: BarMessage) -> None:
        steady_seen.append(int(event.close))

    bus = EventBus(backoff=FAST)
    flaky_stats = bus.subscribe(BARS_DAILY, flaky, name="flaky")
    bus.subscribe(BARS_DAILY, steady, name="steady")
    async with bus:
        deliveries = [await bus.publish(BARS_DAILY, bar("AAPL", d)) for d in range(10)]
        with anyio.fail_after(3):
            while len(steady_seen) < 10 or flaky_stats.restarts < 3:
                await anyio.sleep(0.01)
        # the crashing subscriber holds back only its own event and what follows it; the other saw everything
        assert steady_seen == list(range(10))
        assert flaky_seen == [0, 1, 2, 3]
        assert [d.accepted for d in deliveries] == [True] * 4 + [False] * 6
        healed.set()
        with anyio.fail_after(3):
            await deliveries[-1].wait()

    assert flaky_seen == list(range(10))  # restarted with the event it failed on: nothing skipped, order kept
    stats = bus.stats().subscribers["flaky"]
    assert stats.restarts >= 3
    assert stats.last_error == "ConnectionError: risk engine unreachable"
    assert bus.stats().subscribers["steady"].restarts == 0
    logged = [r for r in caplog.records if r.name == "backbone.bus" and r.levelname == "WARNING"]
    assert len(logged) == stats.restarts
    assert logged[0].getMessage().startswith("subscriber flaky of bars.daily raised (ConnectionError: risk engine")
    assert logged[0].exc_info is not None  # with the traceback


async def test_a_full_required_subscriber_holds_the_publisher_back() -> None:
    gate, started = anyio.Event(), anyio.Event()
    seen: list[int] = []

    async def slow(event: BarMessage) -> None:
        started.set()
        await gate.wait()
        seen.append(int(event.close))

    bus = EventBus()
    bus.subscribe(BARS_DAILY, slow, name="slow", queue_size=2)
    async with bus:
        await bus.publish(BARS_DAILY, bar("AAPL", 0))
        await started.wait()  # event 0 is in the handler's hands; the mailbox holds two more
        await bus.publish(BARS_DAILY, bar("AAPL", 1))
        await bus.publish(BARS_DAILY, bar("AAPL", 2))
        assert bus.stats().subscribers["slow"].queued == 2
        with anyio.move_on_after(0.2) as waited:
            await bus.publish(BARS_DAILY, bar("AAPL", 3))
        assert waited.cancelled_caught  # the publisher was held back, not refused and not dropped
        gate.set()
        with anyio.fail_after(2):
            await (await bus.publish(BARS_DAILY, bar("AAPL", 3))).wait()

    assert seen == [0, 1, 2, 3]
    assert bus.stats().subscribers["slow"].dropped == 0


async def test_a_full_optional_subscriber_drops_its_oldest_events_and_counts_them() -> None:
    gate, started = anyio.Event(), anyio.Event()
    seen: list[int] = []

    async def dashboard(event: BarMessage) -> None:
        started.set()
        await gate.wait()
        seen.append(int(event.close))

    bus = EventBus()
    bus.subscribe(BARS_DAILY, dashboard, name="dashboard", required=False, queue_size=2)
    async with bus:
        first = await bus.publish(BARS_DAILY, bar("AAPL", 0))
        await started.wait()
        with anyio.fail_after(1):  # never waits for an optional subscriber
            for day in range(1, 10):
                await bus.publish(BARS_DAILY, bar("AAPL", day))
        assert first.accepted  # an optional subscriber does not gate acceptance (nor a commit)
        gate.set()
        with anyio.fail_after(2):
            await bus.drain()

    assert seen == [0, 8, 9]  # the one in hand, then the newest two
    stats = bus.stats().subscribers["dashboard"]
    assert (stats.received, stats.handled, stats.dropped) == (10, 3, 7)


async def test_a_topic_refuses_an_event_of_another_type_and_a_bus_that_is_not_running_refuses_all() -> None:
    bus = EventBus()
    with pytest.raises(RuntimeError, match="not running"):
        await bus.publish(BARS_DAILY, bar("AAPL", 0))
    async with bus:
        with pytest.raises(TypeError, match=r"bars\.intraday carries IntradayBar, not BarMessage"):
            await bus.publish(BARS_INTRADAY, bar("AAPL", 0))  # type: ignore[arg-type]
        assert (await bus.publish(BARS_DAILY, bar("AAPL", 0))).accepted  # no subscriber: accepted at once
    bus.subscribe(BARS_DAILY, print, name="printer")
    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe(BARS_INTRADAY, print, name="printer")
