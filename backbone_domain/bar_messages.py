"""The Kafka message contract of a daily bar (docs/streaming.md), and the filter consumers use to drop copies.

Key = symbol, so one symbol's bars share a partition and keep their order. Value = JSON with the bar's identity
(symbol, ts) and version (ingested_at): a retried publish or a replay may repeat a bar, and a consumer keeps only
the first message of each newer version. Encoding is vectorised because publishing a million bars must keep up
with a bare producer loop.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import duckdb
import pandas as pd

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


# One SQL pass in DuckDB (C++, off the GIL) instead of a Python loop: the JSON of a million bars in about a second.
# Doubles print as their shortest round-trip form; NaN adj_close becomes null; timestamps ISO-8601 UTC with 'Z'.
_ENCODE = """
SELECT encode(symbol) AS key, encode(json_object(
    'schema_version', 1, 'symbol', symbol, 'ts', strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'),
    'open', open, 'high', high, 'low', low, 'close', close,
    'adj_close', CASE WHEN isnan(adj_close) THEN NULL ELSE adj_close END, 'volume', volume,
    'source', source, 'ingested_at', strftime(ingested_at, '%Y-%m-%dT%H:%M:%S.%fZ'))::VARCHAR) AS value
FROM bars ORDER BY ordinal
"""


def encode_bars(bars: pd.DataFrame) -> tuple[list[bytes], list[bytes]]:
    """Keys and values of a BAR_COLUMNS frame's bars, in the frame's order."""
    if bars.empty:
        return [], []
    frame = bars[["symbol", "ts", "open", "high", "low", "close", "adj_close", "volume", "source", "ingested_at"]]
    frame = frame.assign(ordinal=range(len(frame)))
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("bars", frame)
        table = con.sql(_ENCODE).to_arrow_table()
    return table.column("key").to_pylist(), table.column("value").to_pylist()


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
