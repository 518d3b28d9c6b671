import datetime as dt
import itertools

import pytest

from backbone_domain.pipeline import date_chunks, reason_kind


def test_date_chunks_cover_the_range_without_gaps_or_overlap():
    chunks = list(date_chunks(dt.date(2024, 1, 1), dt.date(2024, 3, 5), 31))
    assert chunks[0][0] == dt.date(2024, 1, 1)
    assert chunks[-1][1] == dt.date(2024, 3, 5)
    for (_, prev_end), (next_start, _) in itertools.pairwise(chunks):
        assert next_start == prev_end + dt.timedelta(days=1)
    assert all((e - s).days < 31 for s, e in chunks)
    assert len(chunks) == 3


def test_single_day_and_reversed_ranges():
    day = dt.date(2024, 5, 1)
    assert list(date_chunks(day, day, 31)) == [(day, day)]
    with pytest.raises(ValueError, match="before start"):
        list(date_chunks(day, day - dt.timedelta(days=1), 31))


def test_reason_kind_drops_the_value():
    assert reason_kind("open is not a number: 'abc'") == "open is not a number"
