"""Intraday throughput and latency: the producer (`backbone stream intraday`'s replay) to a subscriber of the
runtime's event bus, through the tier's stream (the local log on bootstrap, a tansu broker on institutional).

One process: the replay publishes a synthetic session of 1-minute bars on a worker thread while a ``BusBridge``
feeds an ``EventBus`` whose one subscriber notes when each bar arrives. Latency is that moment minus the moment
the replay handed the bar's batch to the stream (``SessionReplay.batches`` yields it), so it includes the
stream's own batching and delivery confirmation, the consumer's poll, the version filter and the bus's queue.
Two shapes per tier: ``burst`` (speed inf: the whole session at once; throughput is what matters) and ``paced``
(a replay speed that gives about ``--rate`` bars a second: latency as a live session would see it).

    python -m benchmarks.intraday [--tier bootstrap|institutional|both] [--symbols 100] [--rate 500]

Prints one JSON line per run: bars, wall seconds, messages/s (first hand-off to last arrival), p50/p99/max latency
in ms, and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import anyio
import numpy as np

from backbone_domain.bus import BARS_INTRADAY, EventBus, IntradayBar
from backbone_domain.bus.stream_feed import BusBridge
from backbone_domain.intraday_replay import SessionReplay, session_bars
from backbone_ops.resources import tier_resources
from backbone_resources.settings import load_settings
from benchmarks._broker import tansu

SESSION = dt.date(2024, 1, 2)  # a NYSE session of 390 minutes
SESSION_MINUTES = 390


def run(tier: str, symbols: int, speed: float, bootstrap: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            {
                "BACKBONE_MODE": tier,
                "BACKBONE_HOME": str(Path(tmp) / "home"),
                "BACKBONE_SYMBOLS": ",".join(f"S{i:04d}" for i in range(symbols)),
                "BACKBONE_INTRADAY_ENABLED": "true",
                "BACKBONE_INTRADAY_TOPIC": f"bench.intraday.{secrets.token_hex(4)}",
                "BACKBONE_INTRADAY_INTERVAL_MINUTES": "1",
            }
        )
        if bootstrap is not None:
            os.environ |= {"BACKBONE_KAFKA_BOOTSTRAP": bootstrap, "BACKBONE_KAFKA_REPLICATION_FACTOR": "1"}
        settings = load_settings()
        on_topic = settings.model_copy(update={"stream": settings.stream.for_intraday()})
        with tier_resources(on_topic, "source", "stream") as producing, tier_resources(on_topic, "stream") as reading:
            names = producing.source.universe()
            bars = session_bars(producing.source.fetch_intraday(SESSION, names, 1))
            replay = SessionReplay(bars, speed)
            handed = np.zeros(len(replay.bars))
            index = {(b.symbol, b.ts): i for i, b in enumerate(replay.bars)}
            arrived = np.zeros(len(replay.bars))

            def stamped(batches=replay.batches):
                sent = 0
                for batch in batches():  # in replay order: the batch holds the next len(batch) bars
                    handed[sent : sent + len(batch)] = time.perf_counter()
                    sent += len(batch)
                    yield batch

            replay.batches = stamped  # type: ignore[method-assign]
            producing.stream.ensure_topic()

            def note(bar: IntradayBar) -> None:
                arrived[index[(bar.symbol, bar.ts)]] = time.perf_counter()

            async def follow() -> None:
                bus = EventBus()
                bus.subscribe(BARS_INTRADAY, note, name="bench")
                async with bus:
                    bridge = BusBridge(reading.stream, "bench", bus, topic=BARS_INTRADAY)
                    await bridge.feed(max_records=len(bars), idle_timeout_s=60)
                    await bus.drain()

            producer = threading.Thread(target=replay.run, args=(producing.stream,))
            began = time.perf_counter()
            producer.start()
            anyio.run(follow)
            producer.join()
            wall = time.perf_counter() - began
    missing = int((arrived == 0).sum())
    latency_ms = (arrived - handed)[arrived > 0] * 1000
    span = arrived.max() - handed.min()
    return {
        "tier": tier,
        "shape": "burst" if np.isinf(speed) else "paced",
        "speed": speed,
        "bars": len(bars),
        "missing": missing,
        "wall_s": round(wall, 2),
        "messages_per_s": round(len(bars) / span),
        "latency_p50_ms": round(float(np.percentile(latency_ms, 50)), 1),
        "latency_p99_ms": round(float(np.percentile(latency_ms, 99)), 1),
        "latency_max_ms": round(float(latency_ms.max()), 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", choices=["bootstrap", "institutional", "both"], default="both")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500.0, help="bars a second in the paced run")
    args = parser.parse_args()
    paced = args.rate * 60 / args.symbols  # a minute of replay clock holds `symbols` bars
    for tier in ["bootstrap", "institutional"] if args.tier == "both" else [args.tier]:
        with ExitStack() as stack:
            bootstrap = stack.enter_context(tansu()) if tier == "institutional" else None
            for speed in (float("inf"), paced):
                print(json.dumps(run(tier, args.symbols, speed, bootstrap)), flush=True)


if __name__ == "__main__":
    main()
