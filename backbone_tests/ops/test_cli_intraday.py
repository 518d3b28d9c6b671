"""`backbone stream intraday` as an operator runs it, on both tiers (the local log on bootstrap, the real broker on
institutional): in process, then a runtime's event bus fed from the intraday topic; once as the console script,
stopped by SIGTERM half-way through a session."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from backbone_domain.bus import BARS_INTRADAY, EventBus, IntradayBar
from backbone_domain.bus.stream_feed import BusBridge
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.stream.base import StreamResource
from backbone_resources.stream.local_log import LocalLogStream
from backbone_resources.stream.settings import StreamPolicy
from backbone_tests.clock import PINNED
from backbone_tests.ops.cli_runner import BACKBONE, run_in_process
from backbone_tests.resources.stream.conftest import KAFKA_TEST_PRODUCER, kafka_stream

SYMBOLS = ("AAPL", "EURUSD", "MSFT")
SESSION = dt.date(2024, 1, 2)


@pytest.fixture(params=["bootstrap", pytest.param("institutional", marks=pytest.mark.kafka)])
def tier(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, str], StreamResource]:
    """The command's environment on a tier, and the stream a runtime reads the intraday topic through."""
    topic = f"test.intraday.{secrets.token_hex(4)}"
    env = {
        "BACKBONE_HOME": str(tmp_path / "home"),
        "BACKBONE_SYMBOLS": ",".join(SYMBOLS),
        "BACKBONE_INTRADAY_ENABLED": "true",
        "BACKBONE_INTRADAY_TOPIC": topic,
        "BACKBONE_INTRADAY_INTERVAL_MINUTES": "5",
        "BACKBONE_KAFKA_PARTITIONS": "3",
    }
    if request.param == "bootstrap":
        stream = LocalLogStream(path=str(tmp_path / "home" / "stream.sqlite"), policy=StreamPolicy(topic=topic))
        return {**env, "BACKBONE_MODE": "bootstrap"}, stream
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    kafka = {
        "BACKBONE_KAFKA_BOOTSTRAP": bootstrap,
        "BACKBONE_KAFKA_REPLICATION_FACTOR": "1",
        # one record per batch, so tansu's high watermark, hence lag, is exact (docs/streaming.md, "Testing")
        "BACKBONE_KAFKA_PRODUCER_CONFIG": json.dumps(KAFKA_TEST_PRODUCER),
    }
    return {**env, **kafka, "BACKBONE_MODE": "institutional"}, kafka_stream(bootstrap, topic)


def test_a_replayed_session_reaches_two_bus_subscribers_in_order_per_symbol(tier):
    env, stream = tier
    done = run_in_process(env, "stream", "intraday", "--date", SESSION.isoformat(), "--speed", "inf")
    assert done.returncode == 0, done.stderr
    expected = SyntheticSource(symbols=list(SYMBOLS)).fetch_intraday(SESSION, interval_minutes=5)
    assert f"session replayed: {len(expected)} of {len(expected)} bars of 2024-01-02 delivered" in done.stderr

    risk: list[IntradayBar] = []
    ui: list[IntradayBar] = []

    async def on_bar(bar: IntradayBar) -> None:
        risk.append(bar)

    async def follow() -> None:
        bus = EventBus()
        bus.subscribe(BARS_INTRADAY, on_bar, name="risk")
        bus.subscribe(BARS_INTRADAY, ui.append, name="ui")
        async with bus:
            with anyio.fail_after(60):
                await BusBridge(stream, "runtime", bus, topic=BARS_INTRADAY).feed(max_records=len(expected))

    anyio.run(follow)
    assert sum(p.lag for p in stream.lag("runtime")) == 0
    for seen in (risk, ui):
        for symbol in SYMBOLS:
            want = expected[expected["symbol"] == symbol]
            got = [b for b in seen if b.symbol == symbol]
            assert [b.ts for b in got] == list(want["ts"])  # every bar, in session order
            assert [b.close for b in got] == list(want["close"])
            assert {(b.interval_s, b.session, b.origin) for b in got} == {(300, SESSION, "replay")}


def test_off_by_default_and_it_says_so(tmp_path):
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home")}
    off = run_in_process(env, "stream", "intraday", "--speed", "inf")
    assert off.returncode == 2
    assert "intraday bars are off (BACKBONE_INTRADAY_ENABLED=false, the default): nothing published" in off.stderr
    assert not (tmp_path / "home" / "stream.sqlite").exists()

    no_stream = run_in_process(
        {**env, "BACKBONE_INTRADAY_ENABLED": "true", "BACKBONE_STREAMING_ENABLED": "false"},
        "stream",
        "intraday",
        "--speed",
        "inf",
    )
    assert no_stream.returncode == 2
    assert "streaming disabled (BACKBONE_STREAMING_ENABLED=false)" in no_stream.stderr


def test_a_source_without_intraday_bars_is_refused(tmp_path):
    env = {
        "BACKBONE_MODE": "bootstrap",
        "BACKBONE_HOME": str(tmp_path / "home"),
        "BACKBONE_INTRADAY_ENABLED": "true",
        "BACKBONE_SOURCE": "yahoo",
        "BACKBONE_SYMBOLS": "AAPL",
    }
    refused = run_in_process(env, "stream", "intraday", "--date", "2024-01-02")
    assert refused.returncode == 2
    assert "the yahoo source has no intraday bars" in refused.stderr


@pytest.mark.slow
def test_sigterm_stops_a_real_time_replay_cleanly_half_way(tmp_path):
    """At 600x a 5-minute bar closes every half second: SIGTERM after a few leaves a whole prefix on the log."""
    topic = "test.intraday.sigterm"
    env = {
        "BACKBONE_MODE": "bootstrap",
        "BACKBONE_HOME": str(tmp_path / "home"),
        "BACKBONE_SYMBOLS": "AAPL,MSFT",
        "BACKBONE_INTRADAY_ENABLED": "true",
        "BACKBONE_INTRADAY_TOPIC": topic,
        "BACKBONE_INTRADAY_INTERVAL_MINUTES": "5",
        **PINNED,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKBONE_")}
    producer = subprocess.Popen(
        [BACKBONE, "stream", "intraday", "--date", SESSION.isoformat(), "--speed", "600"],
        env={**clean, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert producer.stderr is not None
    started = producer.stderr.readline()
    assert "replaying 2024-01-02" in started, started
    log = LocalLogStream(path=str(tmp_path / "home" / "stream.sqlite"), policy=StreamPolicy(topic=topic))
    deadline = time.monotonic() + 30
    while sum(log.end_offsets().values()) < 6:  # a condition, not a fixed sleep: three bars per symbol are out
        assert time.monotonic() < deadline, "no bars published"
        time.sleep(0.05)
    producer.send_signal(signal.SIGTERM)
    _, err = producer.communicate(timeout=30)
    assert producer.returncode == 0, err
    assert "stopped by SIGTERM" in err
    held = sum(log.end_offsets().values())
    assert f": {held} of 156 bars of 2024-01-02 delivered" in err  # 2 x 78 five-minute bars; what it says it sent
    assert 6 <= held < 156


def test_a_day_without_a_session_is_refused(tmp_path):
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home"), "BACKBONE_INTRADAY_ENABLED": "true"}
    holiday = run_in_process(env, "stream", "intraday", "--date", "2024-01-01", "--symbols", "AAPL,MSFT")
    assert holiday.returncode == 2
    assert "2024-01-01 is not a trading day of any of AAPL, MSFT: no session to replay" in holiday.stderr
    too_late = run_in_process(env, "stream", "intraday", "--date", "2101-01-03")
    assert too_late.returncode == 2
    assert "outside the trading calendars' span" in too_late.stderr
