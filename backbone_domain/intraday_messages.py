"""The Kafka message contract of an intraday (N-minute) bar, beside the daily one (docs/streaming.md).

Key = symbol, so one symbol's bars share a partition and keep their order. Value = JSON with the bar's identity
(symbol, ts, interval_s) and version (ingested_at: when the bar closed at its source, so every replay of a
session repeats the same versions and consumers drop the copies with ``bar_messages.VersionFilter``).

Plain Python on purpose (json, no pandas or DuckDB): a runtime that only follows intraday bars on the event bus
imports this and nothing heavy. A session holds a few thousand bars, so one ``json.dumps`` per bar is enough.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from backbone_domain.message_batch import MessageBatch

SCHEMA_VERSION: Final = 1
Origin = Literal["ingest", "replay"]
_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class IntradayBar:
    """One N-minute bar of a session (the ``bars.intraday`` event on the bus).

    ``ts`` is the start of its interval (UTC); the interval lasts ``interval_s`` seconds, or ends at the session's
    close if that comes first. ``session`` is the trading date whose daily bar these bars aggregate to.
    """

    symbol: str
    ts: dt.datetime
    interval_s: int
    session: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float
    source: str
    ingested_at: dt.datetime
    origin: str  # the record's ``origin`` header: ``replay`` or ``ingest``

    @property
    def identity(self) -> tuple[str, dt.datetime, int]:
        return self.symbol, self.ts, self.interval_s


def headers(origin: Origin) -> dict[str, bytes]:
    return {"schema_version": str(SCHEMA_VERSION).encode(), "origin": origin.encode()}


def encode(bar: IntradayBar) -> tuple[bytes, bytes]:
    """Key and value of one bar; prices and volume as shortest round-trip doubles (``json`` uses ``repr``)."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "symbol": bar.symbol,
        "ts": _iso(bar.ts),
        "interval_s": bar.interval_s,
        "session": bar.session.isoformat(),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
        "source": bar.source,
        "ingested_at": _iso(bar.ingested_at),
    }
    return bar.symbol.encode(), json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def message_batch(bars: Iterable[IntradayBar], origin: Origin) -> MessageBatch:
    """The records of ``bars`` in their order, with the headers of ``origin``."""
    keys, values = [], []
    for bar in bars:
        key, value = encode(bar)
        keys.append(key)
        values.append(value)
    return MessageBatch(keys, values, headers(origin))


def decode(value: bytes, record_headers: dict[str, bytes]) -> IntradayBar:
    """The bar in a message; raises ValueError for a schema version this code does not know."""
    doc = json.loads(value)
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"unknown intraday schema_version {doc.get('schema_version')!r}")
    return IntradayBar(
        symbol=doc["symbol"],
        ts=_parse(doc["ts"]),
        interval_s=doc["interval_s"],
        session=dt.date.fromisoformat(doc["session"]),
        open=doc["open"],
        high=doc["high"],
        low=doc["low"],
        close=doc["close"],
        volume=doc["volume"],
        source=doc["source"],
        ingested_at=_parse(doc["ingested_at"]),
        origin=record_headers.get("origin", b"ingest").decode(),
    )


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_TS_FORMAT)


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
