"""``utf8_cells``: the offsets and bytes every byte-level text check reads, for slices and both widths."""

import itertools

import numpy as np
import pyarrow as pa
import pytest

from backbone_domain.arrow_text import utf8_cells


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()], ids=["string", "large_string"])
def test_a_slice_gives_its_own_values_bytes(kind: pa.DataType) -> None:
    whole = pa.array(["skip", "é1", None, "", "23"], type=kind)
    ends, data = utf8_cells(whole.slice(1, 4))
    values = [bytes(data[a - ends[0] : b - ends[0]]) for a, b in itertools.pairwise(ends)]
    assert values == ["é1".encode(), b"", b"", b"23"]
    assert data.dtype == np.uint8


def test_an_empty_array_has_one_end_and_no_bytes() -> None:
    ends, data = utf8_cells(pa.array([], type=pa.string()))
    assert len(ends) == 1
    assert data.size == 0
