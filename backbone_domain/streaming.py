"""Publishing stored bars to the stream: read a bounded chunk, encode, publish, confirm — as plain functions.

The asset, the replay job, the CLI and the benchmark call ``publish_range``. A retried run republishes the
whole range, so a publish killed half-way leaves the topic complete after the retry; the copies it adds carry
the same (symbol, ts, ingested_at) and consumers drop them (``bar_messages.VersionFilter``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from backbone_domain.bar_messages import Origin, encode_bars, headers
from backbone_domain.pipeline import date_chunks

if TYPE_CHECKING:
    import pandas as pd

    from backbone_resources.store.base import BarStore
    from backbone_resources.stream.base import MessageBatch, PublishReport, StreamResource


def bar_messages(bars: pd.DataFrame, origin: Origin) -> Iterator[MessageBatch]:
    """The frame's bars as one batch of messages (none for an empty frame)."""
    from backbone_resources.stream.base import MessageBatch

    keys, values = encode_bars(bars)
    if keys:
        yield MessageBatch(keys, values, headers(origin))


def publish_range(
    stream: StreamResource,
    store: BarStore,
    start: dt.date,
    end: dt.date,
    origin: Origin,
    chunk_days: int = 31,
    symbols: Sequence[str] | None = None,
) -> PublishReport:
    """Publish the stored bars of [start, end], chunk by chunk (each symbol in ts order), through one producer:
    reading a chunk overlaps with delivering the last one; every message is confirmed before returning."""

    def load(chunk: tuple[dt.date, dt.date]) -> list[MessageBatch]:
        return list(bar_messages(store.read_bars(chunk[0], chunk[1], symbols), origin))

    def batches() -> Iterator[MessageBatch]:
        # The next chunk is read and encoded in a worker (DuckDB and the store's driver release the GIL) while
        # this one is produced: at most two chunks in memory.
        chunks = list(date_chunks(start, end, chunk_days))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish-prefetch") as pool:
            pending = pool.submit(load, chunks[0])
            for following in [*chunks[1:], None]:
                ready = pending.result()
                if following is not None:
                    pending = pool.submit(load, following)
                yield from ready

    return stream.publish(batches())
