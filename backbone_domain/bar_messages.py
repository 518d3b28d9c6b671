"""The Kafka message contract of a daily bar (docs/streaming.md), and the filter consumers use to drop copies.

Key = symbol, so one symbol's bars share a partition and keep their order. Value = JSON with the bar's identity
(symbol, ts) and version (ingested_at): a retried publish or a replay may repeat a bar, and a consumer keeps only
the first message of each newer version. Encoding is vectorised because publishing a million bars must keep up
with a bare producer loop.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA_VERSION: Final = 1
Origin = Literal["ingest", "replay"]
VALUE_FIELDS: Final = (
    "schema_version",
    "symbol",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "source",
    "ingested_at",
)


@dataclass(frozen=True)
class BarMessage:
    symbol: str
    ts: dt.datetime
    open: float
    high: float
    low: float
    close: float
    adj_close: float | None
    volume: float
    source: str
    ingested_at: dt.datetime
    origin: str

    @property
    def identity(self) -> tuple[str, dt.datetime]:
        return self.symbol, self.ts


def headers(origin: Origin) -> dict[str, bytes]:
    return {"schema_version": str(SCHEMA_VERSION).encode(), "origin": origin.encode()}


# One SQL pass in DuckDB (C++, off the GIL) instead of a Python loop: the JSON of a million bars in about half a
# second, in the caller's thread (one DuckDB thread, so a publish leaves the other core to the producer). Doubles
# print as their shortest round-trip form; a missing (NULL or NaN) adj_close becomes null. Timestamps arrive as
# text: formatting each distinct value once (a few thousand days) costs far less than strftime on every row.
# Insertion order is preserved (DuckDB's default), so values line up with the input's rows.
_ENCODE = """
SELECT encode(json_object(
    'schema_version', 1, 'symbol', symbol, 'ts', ts_text, 'open', open, 'high', high, 'low', low, 'close', close,
    'adj_close', CASE WHEN isnan(adj_close) THEN NULL ELSE adj_close END, 'volume', volume,
    'source', source, 'ingested_at', ingested_text)::VARCHAR) AS value
FROM bars
"""
_VALUE_COLUMNS: Final = ("symbol", "open", "high", "low", "close", "adj_close", "volume", "source")
_UTC_US = pa.timestamp("us", tz="UTC")
PIECE_ROWS: Final = 4096  # values turned into bytes objects at a time (see EncodedBars.pieces)
_local = threading.local()  # one DuckDB connection per thread: opening one costs ~10 ms a chunk


@dataclass(frozen=True)
class EncodedBars:
    """Encoded messages in the input's row order: keys as ``bytes`` (one object per symbol, shared), values still
    in Arrow, and the running total of key + value sizes (``sizes[i]`` = bytes of rows 0..i)."""

    keys: list[bytes]
    values: pa.ChunkedArray
    sizes: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        return int(self.sizes[-1]) if len(self.sizes) else 0

    def pieces(self, rows: int = PIECE_ROWS) -> Iterator[tuple[list[bytes], list[bytes], int]]:
        """Keys, values as ``bytes`` and their size, ``rows`` at a time.

        ``produce()`` needs a ``bytes`` object per value. Made a few thousand at a time, just before they are
        produced, they reuse the memory the previous piece freed; made a whole chunk at once, every chunk
        faults in fresh pages (measured: 80,000 page faults and 0.25 s per million values vs none).
        """
        for at in range(0, len(self.keys), rows):
            stop = min(at + rows, len(self.keys))
            size = int(self.sizes[stop - 1]) - (int(self.sizes[at - 1]) if at else 0)
            values = self.values.slice(at, stop - at).to_numpy(zero_copy_only=False).tolist()
            yield self.keys[at:stop], values, size


def encode_table(bars: pa.Table) -> EncodedBars:
    """The messages of an Arrow table of bars (BAR_COLUMNS, as ``BarStore.read_bars_table`` returns them)."""
    if bars.num_rows == 0:
        return EncodedBars([], pa.chunked_array([], pa.binary()), np.zeros(0, dtype=np.int64))
    texts = {"ts_text": _iso_utc(bars.column("ts")), "ingested_text": _iso_utc(bars.column("ingested_at"))}
    columns = bars.select(list(_VALUE_COLUMNS))
    for name, text in texts.items():
        columns = columns.append_column(name, text)
    con = _connection()
    con.register("bars", columns)
    try:
        values = con.sql(_ENCODE).to_arrow_table().column("value")
    finally:
        con.unregister("bars")
    symbols = bars.column("symbol")
    runs = pc.run_end_encode(symbols.combine_chunks())
    per_symbol = np.array([s.encode() for s in runs.values.to_pylist()], dtype=object)
    keys = np.repeat(per_symbol, np.diff(runs.run_ends.to_numpy(), prepend=0)).tolist()
    lengths = pc.add(pc.binary_length(symbols), pc.binary_length(values))
    return EncodedBars(keys, values, np.cumsum(lengths.to_numpy(), dtype=np.int64))


def _iso_utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO-8601 UTC text with microseconds and 'Z', formatted once per distinct timestamp."""
    column = column.cast(_UTC_US)
    distinct = pc.unique(column)
    text = pc.strftime(distinct, format="%Y-%m-%dT%H:%M:%SZ")  # %S carries the microseconds of a us timestamp
    return pc.take(text, pc.index_in(column, value_set=distinct))


def _connection() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect(config={"threads": 1})
        con.execute("SET TimeZone = 'UTC'")
    return con


def encode_bars(bars: pd.DataFrame) -> tuple[list[bytes], list[bytes]]:
    """Keys and values of a BAR_COLUMNS frame's bars, in the frame's order (NaN adj_close as null)."""
    table = pa.Table.from_pandas(bars.loc[:, [*_VALUE_COLUMNS, "ts", "ingested_at"]], preserve_index=False)
    encoded = encode_table(table)
    return encoded.keys, encoded.values.to_pylist()


def decode(value: bytes, record_headers: dict[str, bytes]) -> BarMessage:
    """The bar in a message; raises ValueError for a schema version this code does not know."""
    doc = json.loads(value)
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"unknown schema_version {doc.get('schema_version')!r}")
    return BarMessage(
        symbol=doc["symbol"],
        ts=_parse(doc["ts"]),
        open=doc["open"],
        high=doc["high"],
        low=doc["low"],
        close=doc["close"],
        adj_close=doc["adj_close"],
        volume=doc["volume"],
        source=doc["source"],
        ingested_at=_parse(doc["ingested_at"]),
        origin=record_headers.get("origin", b"ingest").decode(),
    )


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class VersionFilter:
    """Remembers the newest version handled per bar (symbol, ts) so copies and out-of-date versions are dropped.

    ``select`` picks the bars of a batch that are newer than anything handled (and than earlier bars of the same
    batch); ``remember`` records them once the handler succeeded, so a failed batch is selected again on redelivery.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, dt.datetime], dt.datetime] = {}

    def select(self, bars: Sequence[BarMessage]) -> list[BarMessage]:
        pending: dict[tuple[str, dt.datetime], dt.datetime] = {}
        fresh = []
        for bar in bars:
            newest = pending.get(bar.identity) or self._seen.get(bar.identity)
            if newest is not None and bar.ingested_at <= newest:
                continue
            pending[bar.identity] = bar.ingested_at
            fresh.append(bar)
        return fresh

    def remember(self, bars: Sequence[BarMessage]) -> None:
        for bar in bars:
            self._seen[bar.identity] = max(bar.ingested_at, self._seen.get(bar.identity, bar.ingested_at))

    def __len__(self) -> int:
        return len(self._seen)
