"""The bulk reading of plain decimal text (``validation_rules._plain_decimals``) against the spelling it promises.

The fast path checks bytes and lets Arrow's cast refuse the rest, instead of matching a regex; these tests hold
it to that regex, restated here, and to the general path (``pd.to_numeric``) on the boundary spellings.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbone_domain.validation_rules import _plain_decimals, parse_numbers

PLAIN = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")  # matched in full
BOUNDARY = [
    *("+1", " 1", "1 ", "+.5", "-+1", "+-1", "--1", "1e3", "1E+3", "1e-3", "1.e5", ".e5", "e5", "1e", "1e+"),
    *("1e+-5", "1-2", "1+2", "1.2.3", "1ee5", ".", "-", "-.5", ".5", "5.", "007", "-0", "", "nan", "-nan"),
    *("NaN", "inf", "-inf", "Infinity", "1_000", "1,234.5", "0x10", "١٢", "１２", "1\x00", "1\n", "\u20037"),
    *("1e400", "-1e400", "1e-400", "1" * 400, "0." + "1" * 800, "180144.98017032706", "True"),
]


def _plain(text: str) -> bool:
    return PLAIN.fullmatch(text) is not None


def _reads_alike(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True) and (np.signbit(a) == np.signbit(b)).all())


@pytest.mark.parametrize("text", BOUNDARY)
def test_a_boundary_spelling_takes_the_bulk_path_only_if_plain_and_reads_as_the_general_path_does(text: str):
    bulk = _plain_decimals(pa.array([text, None, "2.5"], type=pa.string()))
    assert (bulk is not None) == _plain(text)
    alone = parse_numbers(pd.Series([text, None, "2.5"], dtype=object))
    general = parse_numbers(pd.Series([text, None, "2.5", 7], dtype=object))  # a number among text: pd.to_numeric
    assert _reads_alike(alone.values, general.values[:-1])
    assert alone.missing.tolist() == general.missing[:-1].tolist()
    assert alone.unreadable.tolist() == general.unreadable[:-1].tolist()
    if bulk is not None:
        assert _reads_alike(bulk, np.array([float(text), np.nan, 2.5]))


def test_null_empty_sliced_and_chunked_text():
    assert _plain_decimals(pa.array([], type=pa.string())).tolist() == []
    assert np.isnan(_plain_decimals(pa.array([None, None], type=pa.string()))).all()
    assert _plain_decimals(pa.array(["", None], type=pa.string())) is None
    sliced = pa.array(["+1", "1", "2e1", " 3"], type=pa.string())
    assert _plain_decimals(sliced.slice(1, 2)).tolist() == [1.0, 20.0]  # the bytes around the slice are not looked at
    assert _plain_decimals(sliced.slice(0, 2)) is None
    assert _plain_decimals(sliced.slice(2)) is None
    assert _plain_decimals(pa.chunked_array([["1", "2"], ["3"]])).tolist() == [1.0, 2.0, 3.0]
    assert _plain_decimals(pa.chunked_array([["1", "2"], ["+3"]])) is None
    assert _plain_decimals(pa.array(["1", "-2.5"], type=pa.large_string())).tolist() == [1.0, -2.5]
    assert _plain_decimals(pa.array(["1", "+2.5"], type=pa.large_string())) is None


_SPELLINGS = st.one_of(
    st.text(alphabet="0123456789.-+eE", max_size=8),
    st.from_regex(PLAIN, fullmatch=True),
    st.text(alphabet="0123456789.-+eE iInNaAfFxX_,\x00\n١０", max_size=8),
    st.sampled_from(BOUNDARY),
)


@given(st.lists(_SPELLINGS, min_size=1, max_size=40))
def test_the_bulk_path_reads_exactly_the_plain_spelling_as_python_does(texts: list[str]):
    for text in texts:
        bulk = _plain_decimals(pa.array([text], type=pa.string()))
        assert (bulk is not None) == _plain(text), text
        if bulk is not None:
            assert _reads_alike(bulk, np.array([float(text)])), text
    together = _plain_decimals(pa.array(texts, type=pa.string()))
    assert (together is not None) == all(map(_plain, texts))
