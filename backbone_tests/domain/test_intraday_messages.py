"""The intraday message contract (docs/streaming.md, "Intraday bars"): what a message holds, and that it
decodes to the bar that was encoded, floats bit for bit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbone_domain.intraday_messages import IntradayBar, decode, encode, message_batch

UTC = dt.UTC
BAR = IntradayBar(
    symbol="AAPL",
    ts=dt.datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
    interval_s=60,
    session=dt.date(2024, 1, 2),
    open=187.15,
    high=188.44,
    low=183.89,
    close=185.64,
    volume=82488.0,
    source="synthetic",
    ingested_at=dt.datetime(2024, 1, 2, 14, 31, tzinfo=UTC),
    origin="replay",
)


def test_the_message_is_the_documented_json_keyed_by_symbol():
    key, value = encode(BAR)
    assert key == b"AAPL"
    assert json.loads(value) == {
        "schema_version": 1,
        "symbol": "AAPL",
        "ts": "2024-01-02T14:30:00.000000Z",
        "interval_s": 60,
        "session": "2024-01-02",
        "open": 187.15,
        "high": 188.44,
        "low": 183.89,
        "close": 185.64,
        "volume": 82488.0,
        "source": "synthetic",
        "ingested_at": "2024-01-02T14:31:00.000000Z",
    }
    batch = message_batch([BAR, BAR], "replay")
    assert batch.keys == [b"AAPL", b"AAPL"]
    assert batch.headers == {"schema_version": b"1", "origin": b"replay"}


@given(price=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False), volume=st.integers(0, 2**53))
def test_decode_gives_back_the_encoded_bar_bit_for_bit(price, volume):
    bar = IntradayBar(**{**BAR.__dict__, "low": price, "volume": float(volume)})
    _, value = encode(bar)
    assert decode(value, {"origin": b"replay"}) == bar


def test_an_unknown_schema_version_is_refused():
    _, value = encode(BAR)
    doc = json.loads(value) | {"schema_version": 2}
    with pytest.raises(ValueError, match="unknown intraday schema_version 2"):
        decode(json.dumps(doc).encode(), {})
