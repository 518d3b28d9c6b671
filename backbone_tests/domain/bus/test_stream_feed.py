"""The bridge feeding the bus over every stream backend (local log, Kafka): commit-after-handle."""

from __future__ import annotations

from itertools import chain
from pathlib import Path

import anyio
import pytest

from backbone_domain.bar_messages import BarMessage
from backbone_domain.bus import BARS_DAILY, Backoff, EventBus
from backbone_domain.bus.stream_feed import BusBridge
from backbone_domain.streaming import bar_messages
from backbone_tests.builders import daily_bars

pytestmark = pytest.mark.anyio
FAST = Backoff(initial_s=0.01, max_s=0.05, jitter_s=0.0)


def _days(seen: list[BarMessage]) -> dict[str, list[int]]:
    days: dict[str, list[int]] = {}
    for b in seen:
        days.setdefault(b.symbol, []).append(b.ts.day)
    return days


async def test_two_subscribers_get_each_symbols_bars_in_order_and_everything_is_committed(stream) -> None:
    stream.ensure_topic()
    bars = daily_bars(days=12)
    stream.publish(chain(bar_messages(bars, "ingest"), bar_messages(bars, "replay")))  # copies: dropped before the bus
    risk: list[BarMessage] = []
    ui: list[BarMessage] = []

    async def on_bar(event: BarMessage) -> None:
        risk.append(event)

    bus = EventBus()
    bus.subscribe(BARS_DAILY, on_bar, name="risk")
    bus.subscribe(BARS_DAILY, ui.append, name="ui")
    async with bus:
        with anyio.fail_after(30):
            report = await BusBridge(stream, "runtime", bus, batch_size=7).feed(max_records=72)

    in_order = {s: list(range(1, 13)) for s in ("AAPL", "MSFT", "EURUSD=X")}
    assert _days(risk) == _days(ui) == in_order
    assert (report.received, report.handled, report.skipped) == (72, 36, 36)
    assert sum(p.lag for p in stream.lag("runtime")) == 0


async def test_nothing_is_committed_past_a_bar_a_required_subscriber_did_not_accept(stream) -> None:
    stream.ensure_topic()
    bars = daily_bars(symbols=("MSFT",), days=8)  # one symbol: one partition, offsets 0..8 in this order
    copy = bar_messages(bars.iloc[:1], "replay")  # a copy of day 1: nothing to accept, but it lies past day 2
    stream.publish(chain(bar_messages(bars.iloc[:2], "ingest"), copy, bar_messages(bars.iloc[2:], "ingest")))
    steady: list[BarMessage] = []

    def risk(event: BarMessage) -> None:
        if event.ts.day == 2:
            raise RuntimeError("risk limits unavailable")

    bus = EventBus(backoff=FAST)
    bus.subscribe(BARS_DAILY, steady.append, name="steady")
    risk_stats = bus.subscribe(BARS_DAILY, risk, name="risk")
    bridge = BusBridge(stream, "runtime", bus, batch_size=4, stop_grace_s=0.2)  # days 1, 2, the copy, day 3
    async with bus, anyio.create_task_group() as tasks:
        tasks.start_soon(bridge.feed)
        with anyio.fail_after(30):
            while len(steady) < 3 or risk_stats.restarts < 2:
                await anyio.sleep(0.02)
        bridge.stop()  # day 2 is never accepted: the stop gives up on it after the grace

    assert [b.ts.day for b in steady] == [1, 2, 3]  # the next batch was held back, waiting on risk
    assert sum(p.lag for p in stream.lag("runtime")) == 8  # only day 1 committed: not the copy past day 2

    again: list[BarMessage] = []
    bus = EventBus()
    bus.subscribe(BARS_DAILY, again.append, name="risk")
    async with bus:
        with anyio.fail_after(30):
            await BusBridge(stream, "runtime", bus).feed(max_records=8)
    # redelivered from day 2; the copy of day 1 too, since a new bridge has not seen day 1 (at least once)
    assert [b.ts.day for b in again] == [2, 1, 3, 4, 5, 6, 7, 8]
    assert sum(p.lag for p in stream.lag("runtime")) == 0


@pytest.mark.timeout(30)  # a feed that ignored the cancel would hang on its worker thread: fail, don't wait 600 s
async def test_cancelling_the_feed_stops_the_bridge_after_committing_what_was_accepted(stream) -> None:
    stream.ensure_topic()
    stream.publish(bar_messages(daily_bars(days=5), "ingest"))
    seen: list[BarMessage] = []
    bus = EventBus()
    bus.subscribe(BARS_DAILY, seen.append, name="risk")
    bridge = BusBridge(stream, "runtime", bus)
    with anyio.fail_after(20):
        async with bus, anyio.create_task_group() as tasks:
            tasks.start_soon(bridge.feed)  # no idle timeout, no max: runs until cancelled
            while len(seen) < 15:
                await anyio.sleep(0.02)
            tasks.cancel_scope.cancel()

    assert len(seen) == 15
    assert sum(p.lag for p in stream.lag("runtime")) == 0


def test_the_docs_example_runs_on_the_bootstrap_tier(tmp_path, monkeypatch, capsys) -> None:
    """docs/streaming.md's embedding example, as written, over a local log holding 10 days of 3 symbols."""
    from backbone_resources.settings import load_settings
    from backbone_resources.tiers import build_stream

    monkeypatch.setenv("BACKBONE_MODE", "bootstrap")
    monkeypatch.setenv("BACKBONE_HOME", str(tmp_path / "home"))
    build_stream(load_settings()).publish(bar_messages(daily_bars(days=10), "ingest"))
    docs = (Path(__file__).resolve().parents[3] / "docs" / "streaming.md").read_text()
    example = docs.split("## The runtime event bus", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]

    exec(compile(example, "docs/streaming.md", "exec"), {"__name__": "example"})

    printed = capsys.readouterr().out.splitlines()
    assert sum(line.startswith(("AAPL 2024-01-", "MSFT 2024-01-", "EURUSD=X 2024-01-")) for line in printed) == 30
    report, risk = printed[-1].split(" SubscriberStats(")
    assert "received=30, handled=30, skipped=0" in report
    assert "name='risk'" in risk
    assert "handled=30, restarts=0" in risk
