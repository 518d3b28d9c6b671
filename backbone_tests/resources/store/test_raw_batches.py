"""The raw landing's codec alone: one Arrow IPC batch per day, split and ordered as ``read_raw`` promises."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from backbone_domain import frames
from backbone_resources.store import raw_batches
from backbone_tests.builders import MON, raw_rows, week


def test_batches_round_trip_a_day_exactly() -> None:
    rows = frames.raw_table(raw_rows(MON))
    (day, part), *rest = raw_batches.days_of(raw_batches.landed(rows))

    back = raw_batches.decode([raw_batches.encode(part)])

    assert (day, rest) == (MON, [])
    assert back.schema == raw_batches.RAW_ARROW_SCHEMA
    assert sorted(back.to_pylist(), key=repr) == sorted(rows.to_pylist(), key=repr)


def test_days_are_split_and_ordered_as_read_raw_promises() -> None:
    later, earlier = week(2)[1], MON
    rows = frames.raw_table(pd.concat([raw_rows(later), raw_rows(earlier)], ignore_index=True))

    split = list(raw_batches.days_of(raw_batches.landed(rows)))

    assert [day for day, _ in split] == [earlier, later]
    first = split[0][1].to_pydict()
    assert first["symbol"] == ["AAPL", "AAPL", "MSFT", None]
    assert first["open"] == ["1.50", "", "NaN", None]  # the two AAPL rows (same ts) keep their landing order


def test_nothing_decodes_to_an_empty_typed_table() -> None:
    empty = raw_batches.decode([])
    assert empty.num_rows == 0
    assert empty.schema == raw_batches.RAW_ARROW_SCHEMA
    assert list(raw_batches.days_of(raw_batches.RAW_ARROW_SCHEMA.empty_table())) == []
    assert isinstance(raw_batches.encode(empty), bytes)
    assert pa.ipc.open_stream(raw_batches.encode(empty)).read_all().num_rows == 0


def test_days_encoded_side_by_side_are_the_same_bytes_in_the_same_order() -> None:
    rows = frames.raw_table(pd.concat([raw_rows(day) for day in week(5)], ignore_index=True))
    parts = [part for _, part in raw_batches.days_of(raw_batches.landed(rows))]

    assert len(parts) == 5
    assert raw_batches.encode_days(parts) == [raw_batches.encode(part) for part in parts]
    assert raw_batches.encode_days(parts[:1]) == [raw_batches.encode(parts[0])]
    assert raw_batches.encode_days([]) == []
