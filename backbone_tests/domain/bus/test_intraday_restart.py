"""A runtime's bridge killed outright (SIGKILL) half-way through an intraday session, then restarted: every minute
bar reaches each bus subscriber at least once, and exactly once after the version filter, on every stream backend.

The killed bridge is a process of its own (a kill that skips every ``finally``: no commit of what it handled);
its two subscribers append what they see to files. The restart runs in process on the same group, so it starts
from the last commit and delivers again what the killed one had handled but not committed.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import anyio
import pytest

from backbone_domain.bar_messages import VersionFilter
from backbone_domain.bus import BARS_INTRADAY, EventBus, IntradayBar
from backbone_domain.bus.stream_feed import BusBridge
from backbone_domain.intraday_replay import SessionReplay, session_bars
from backbone_resources.source.synthetic import SyntheticSource

SYMBOLS = ["AAPL", "EURUSD", "MSFT"]
SESSION = dt.date(2024, 1, 2)
SUBSCRIBERS = ("risk", "ui")

# The killed bridge: the stream resource rebuilt from its JSON, two subscribers writing what they see, slowly
# enough (10 ms an event) that the parent kills it half-way.
CHILD = """
import importlib, json, sys, time
import anyio
from backbone_domain.bus import BARS_INTRADAY, EventBus
from backbone_domain.bus.stream_feed import BusBridge

module, name, dump, out = sys.argv[1:5]
stream = getattr(importlib.import_module(module), name).model_validate_json(dump)

def writer(subscriber):
    file = open(f"{out}/{subscriber}.jsonl", "a", buffering=1)
    def seen(bar):
        file.write(json.dumps([bar.symbol, bar.ts.isoformat(), bar.ingested_at.isoformat()]) + "\\n")
        time.sleep(0.01)
    return seen

async def main():
    bus = EventBus()
    for subscriber in ("risk", "ui"):
        bus.subscribe(BARS_INTRADAY, writer(subscriber), name=subscriber)
    async with bus:
        await BusBridge(stream, "runtime", bus, topic=BARS_INTRADAY, batch_size=20).feed()

anyio.run(main)
"""


def _seen_in(path: Path) -> list[tuple[str, str, str]]:
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []


def _line(bar: IntradayBar) -> tuple[str, str, str]:
    return bar.symbol, bar.ts.isoformat(), bar.ingested_at.isoformat()


@pytest.mark.slow
def test_a_bridge_killed_half_way_then_restarted_delivers_every_bar_at_least_once(stream, tmp_path):
    bars = session_bars(SyntheticSource(symbols=SYMBOLS).fetch_intraday(SESSION, SYMBOLS, 5))
    stream.ensure_topic()
    assert SessionReplay(bars, float("inf")).run(stream).delivered == len(bars)

    resource = type(stream)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, resource.__module__, resource.__name__, stream.model_dump_json(), str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_seen_in(tmp_path / "risk.jsonl")) < len(bars) // 2:
            assert child.poll() is None, child.stderr.read() if child.stderr else "the bridge ended early"
            assert time.monotonic() < deadline, "the killed bridge never got half-way"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    before = {s: _seen_in(tmp_path / f"{s}.jsonl") for s in SUBSCRIBERS}
    assert all(0 < len(seen) < len(bars) for seen in before.values()), {s: len(v) for s, v in before.items()}

    after: dict[str, list[tuple[str, str, str]]] = {s: [] for s in SUBSCRIBERS}

    async def restart() -> None:
        bus = EventBus()
        for subscriber in SUBSCRIBERS:
            bus.subscribe(BARS_INTRADAY, lambda bar, s=subscriber: after[s].append(_line(bar)), name=subscriber)
        async with bus:
            with anyio.fail_after(60):
                await BusBridge(stream, "runtime", bus, topic=BARS_INTRADAY).feed(idle_timeout_s=2)

    anyio.run(restart)

    expected = sorted(_line(b) for b in bars)
    for subscriber in SUBSCRIBERS:
        seen = before[subscriber] + after[subscriber]
        assert set(seen) == set(expected), subscriber  # every bar at least once
        kept = VersionFilter().select(
            [SimpleNamespace(identity=(s, t), ingested_at=dt.datetime.fromisoformat(v)) for s, t, v in seen]
        )
        assert len(kept) == len(expected), subscriber  # exactly once after the version filter
        for part in (before[subscriber], after[subscriber]):  # each run delivers each symbol's bars in order
            for symbol in SYMBOLS:
                times = [t for s, t, _ in part if s == symbol]
                assert times == sorted(times), (subscriber, symbol)
    assert sum(p.lag for p in stream.lag("runtime")) == 0
