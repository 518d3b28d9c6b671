"""The message contract and the version filter, without a broker."""

from __future__ import annotations

import json

import pytest

from backbone_domain.bar_messages import VersionFilter, decode, encode_bars, headers
from backbone_tests.resources.stream.test_contract import make_bars


def test_value_holds_the_documented_fields_and_round_trips():
    bars = make_bars(symbols=("EURUSD=X",), days=2)
    keys, values = encode_bars(bars)
    assert keys == [b"EURUSD=X", b"EURUSD=X"]
    doc = json.loads(values[0])
    assert list(doc) == [
        "schema_version", "symbol", "ts", "open", "high", "low", "close", "adj_close", "volume", "source",
        "ingested_at",
    ]  # fmt: skip
    assert (doc["schema_version"], doc["ts"], doc["adj_close"]) == (1, "2024-01-01T00:00:00.000000Z", None)
    assert doc["ingested_at"] == "2024-03-01T12:00:00.000000Z"
    bar = decode(values[1], headers("replay"))
    assert (bar.symbol, bar.ts.isoformat(), bar.close, bar.origin) == (
        "EURUSD=X", "2024-01-02T00:00:00+00:00", 12.0, "replay"
    )  # fmt: skip
    assert headers("ingest") == {"schema_version": b"1", "origin": b"ingest"}


def test_unknown_schema_version_is_refused():
    with pytest.raises(ValueError, match="schema_version"):
        decode(b'{"schema_version": 2}', {})


def test_filter_drops_copies_and_older_versions_and_forgets_unhandled_batches():
    old = [decode(v, {}) for v in encode_bars(make_bars(days=2, ingested="2024-03-01"))[1]]
    new = [decode(v, {}) for v in encode_bars(make_bars(days=2, ingested="2024-03-02"))[1]]
    versions = VersionFilter()
    assert versions.select(old + old) == old  # copies inside one batch
    assert versions.select(old) == old  # not remembered: the handler did not confirm yet
    versions.remember(old)
    assert versions.select(old) == []
    assert versions.select(new) == new
    versions.remember(new)
    assert versions.select(old + new) == []  # out of date, and duplicates
