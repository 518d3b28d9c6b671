"""NUL bytes found in bulk and written visibly (``nul_bytes``), and the validation rule that refuses them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backbone_domain import frames
from backbone_domain.nul_bytes import has_nul, payload_has_nul, payload_without_nul, text_without_nul
from backbone_domain.validation_rules import nul_failures
from backbone_tests.builders import MON, bars


def test_has_nul_looks_at_text_only() -> None:
    mixed = pd.Series(["a\x00b", 1.5, None, "plain", np.nan], dtype=object)
    assert has_nul(mixed).tolist() == [True, False, False, False, False]
    assert has_nul(pd.Series(["x", "y\x00"])).tolist() == [False, True]
    assert not has_nul(pd.Series([1.0, 2.0])).any()


def test_a_payload_holds_a_nul_as_the_byte_or_as_json_escape_but_not_as_an_escaped_backslash() -> None:
    payloads = pd.Series(
        [
            '{"a": "x\\u0000"}',  # JSON escape of a NUL
            '{"a": "x\\\\u0000"}',  # an escaped backslash, then the text u0000
            "raw\x00text",
            "not JSON \\u0000",  # the six characters, in text: no NUL
            None,
            '{"a": "\\\\\\u0000"}',  # escaped backslash, then a NUL escape
        ],
        dtype=object,
    )
    assert payload_has_nul(payloads).tolist() == [True, False, True, False, False, True]


def test_the_joined_text_shortcut_finds_each_cell_and_invents_none() -> None:
    """has_nul first searches all text cells joined: a hit there is only a candidate, a miss rules all out."""
    split = pd.Series(['{"a": "\\u00', '00"}', "x\x00", "\x00", None, 7], dtype=object)
    assert payload_has_nul(split).tolist() == [False, False, True, True, False, False]
    assert has_nul(split, "\\u0000").tolist() == [False] * 6  # the spelling only straddles two cells
    assert not payload_has_nul(pd.Series(['{"file": "a.csv", "line": 2}'] * 3 + [None], dtype=object)).any()
    assert not has_nul(pd.Series([None, np.nan, 1.5], dtype=object)).any()
    assert not has_nul(pd.Series([], dtype=object)).any()
    assert has_nul(pd.Series([b"a\x00", None, "b"], dtype=object)).tolist() == [True, False, False]  # as Arrow reads
    assert payload_has_nul(pd.Series([None, '{"a": "\\\\\\u0000"}', '{"a": "\\\\u0000"}'])).tolist() == [
        False,
        True,  # an escaped backslash, then a NUL escape
        False,  # an escaped backslash, then the text u0000
    ]


def test_a_payload_without_nul_keeps_the_information_visibly_and_is_json_that_jsonb_takes() -> None:
    assert json.loads(payload_without_nul('{"a": "x\\u0000y", "b": 1}')) == {"a": "x\\u0000y", "b": 1}
    assert json.loads(payload_without_nul('{"a": "\\\\\\u0000"}')) == {"a": "\\\\u0000"}
    assert json.loads(payload_without_nul("raw\x00text")) == "raw\\u0000text"
    assert payload_without_nul('{"a": "x\\\\u0000"}') == '{"a": "x\\\\u0000"}'  # unchanged: no NUL in it
    assert payload_without_nul(None) is None
    assert text_without_nul("A\x00B") == "A\\u0000B"
    assert text_without_nul(None) is None


def test_the_rule_names_the_column_and_how_the_nul_is_kept() -> None:
    failures = nul_failures("open", pd.Series(["1", "1\x000", None], dtype=object))
    assert failures.mask.tolist() == [False, True, False]
    assert failures.describe(np.array([1])) == ["open contains a NUL byte (stored as \\u0000)"]


def test_accepted_bars_holding_a_nul_are_refused_before_any_store_sees_them() -> None:
    accepted = bars(["AAA", "BBB"], [MON])
    accepted.loc[1, "source"] = "csv:/da\x00ta"
    with pytest.raises(ValueError, match=r"accepted bar 1 has a NUL byte in source \('csv:/da\\x00ta'\)"):
        frames.bars_table(accepted)
