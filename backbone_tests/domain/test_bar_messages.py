"""The message contract and the version filter, without a broker."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest

from backbone_domain.bar_messages import VersionFilter, decode, encode_bars, encode_table, headers
from backbone_tests.builders import daily_bars


def test_value_holds_the_documented_fields_and_round_trips():
    bars = daily_bars(symbols=("EURUSD=X",), days=2)
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
    old = [decode(v, {}) for v in encode_bars(daily_bars(days=2, ingested="2024-03-01"))[1]]
    new = [decode(v, {}) for v in encode_bars(daily_bars(days=2, ingested="2024-03-02"))[1]]
    versions = VersionFilter()
    assert versions.select(old + old) == old  # copies inside one batch
    assert versions.select(old) == old  # not remembered: the handler did not confirm yet
    versions.remember(old)
    assert versions.select(old) == []
    assert versions.select(new) == new
    versions.remember(new)
    assert versions.select(old + new) == []  # out of date, and duplicates


def test_arrow_encoding_keeps_row_order_values_and_size():
    """Interleaved symbols (keys are built per run of a symbol), several Arrow chunks, microsecond versions,
    NaN and NULL adj_close, doubles that need 17 digits: every message says exactly what its row holds."""
    frame = daily_bars(symbols=("AAPL", "EURUSD=X", "^GSPC"), days=3).sample(frac=1, random_state=3)
    frame = frame.reset_index(drop=True)
    frame.loc[0, "open"] = 0.1 + 0.2
    frame.loc[1, "volume"] = 1e20
    frame.loc[2, "ingested_at"] = pd.Timestamp("2024-03-01 23:59:59.999999", tz="UTC")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = pa.concat_tables([table.slice(0, 4), table.slice(4)])  # two chunks
    assert table.column("adj_close").null_count == 3  # NaN became NULL on the way into Arrow

    encoded = encode_table(table)
    pieces = list(encoded.pieces(rows=4))

    assert [len(keys) for keys, _, _ in pieces] == [4, 4, 1]
    keys = [k for piece, _, _ in pieces for k in piece]
    values = [v for _, piece, _ in pieces for v in piece]
    assert all(isinstance(v, bytes) for v in values)
    assert keys == encoded.keys == [s.encode() for s in frame["symbol"]]
    assert [size for _, _, size in pieces] == [sum(map(len, k)) + sum(map(len, v)) for k, v, _ in pieces]
    assert encoded.nbytes == sum(map(len, keys)) + sum(map(len, values))
    docs = [json.loads(v) for v in values]
    assert [d["symbol"] for d in docs] == frame["symbol"].tolist()
    assert [d["ts"] for d in docs] == [t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in frame["ts"]]
    assert docs[2]["ingested_at"] == "2024-03-01T23:59:59.999999Z"
    assert (docs[0]["open"], docs[1]["volume"]) == (0.30000000000000004, 1e20)
    assert [d["adj_close"] for d in docs] == [None if pd.isna(v) else v for v in frame["adj_close"]]
    assert all(isinstance(d["volume"], float) for d in docs)  # doubles stay doubles ("1000.0", not "1000")
    empty = encode_table(table.slice(0, 0))
    assert (len(empty), empty.nbytes, list(empty.pieces())) == (0, 0, [])
