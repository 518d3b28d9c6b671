"""NUL bytes in raw rows: found in bulk, and written visibly as the text ``\\u0000`` wherever a rejected row keeps them.

PostgreSQL's ``text`` cannot hold a NUL and its ``jsonb`` refuses the ``\\u0000`` escape, so a row holding one
could not be quarantined there (DuckDB kept it). Validation rejects such a row (``validation_rules.nul_failures``)
and the rejected row keeps the information as the six characters ``\\u0000``, on both tiers alike; its reason
says so, so nobody reads that text as what the source sent.
"""

from __future__ import annotations

import json
import re
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NUL: Final = "\x00"
SHOWN: Final = "\\u0000"  # what a NUL becomes: six visible characters
# A JSON \u0000 escape (not an escaped backslash followed by "u0000"): an even run of backslashes before it.
_JSON_ESCAPE: Final = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def has_nul(column: pd.Series, spelled: str = NUL) -> np.ndarray:
    """Which cells are text holding ``spelled`` (a NUL unless told); numbers, dates and NULLs never do."""
    return _cells_with(column, spelled, _all_text(column))


def payload_has_nul(payloads: pd.Series) -> np.ndarray:
    """Which payloads hold a NUL: the byte itself, or (in a JSON document) its ``\\u0000`` escape."""
    text = _all_text(payloads)  # joined once for both spellings
    found = _cells_with(payloads, NUL, text)
    maybe = np.flatnonzero(~found & _cells_with(payloads, SHOWN, text))  # "\\u0000" may be an escaped backslash
    for at in maybe.tolist():
        payload = payloads.iloc[at]
        found[at] = payload_without_nul(payload) != payload
    return found


def _all_text(column: pd.Series) -> str | None:
    """The text cells of an object column joined into one string; None for another dtype or a column with bytes.

    Why: a clean column is the usual case, and one substring search over the joined text (~10 ms for 150k JSON
    payloads) rules it out, where converting it to Arrow and matching each cell cost ~100 ms per spelling. The
    join can only add matches (across two cells' boundary), never lose one: a hit still goes cell by cell.
    """
    if column.dtype != object:
        return None
    values = column.to_numpy()
    try:
        return "".join(values)
    except TypeError:  # NULLs and numbers hold no NUL; bytes may (Arrow reads them as text): no shortcut then
        values = values[pd.notna(values)]  # a source without payloads: every cell NULL, dropped in one pass
        try:
            return "".join(values)
        except TypeError:
            if any(isinstance(v, bytes | bytearray | memoryview) for v in values):
                return None
            return "".join([v for v in values if isinstance(v, str)])


def _cells_with(column: pd.Series, spelled: str, text: str | None) -> np.ndarray:
    """``has_nul`` given ``_all_text`` of the column: no cell holds ``spelled`` when the joined text does not."""
    # Its first character alone first: a one-character search is a memchr, ~20x faster than the six of SHOWN.
    if column.dtype.kind in "biufcmM" or (text is not None and (spelled[0] not in text or spelled not in text)):
        return np.zeros(len(column), dtype=bool)
    try:
        cells = pa.array(column, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed text and numbers: look at the text only
        return np.fromiter((isinstance(v, str) and spelled in v for v in column), dtype=bool, count=len(column))
    return pc.fill_null(pc.match_substring(cells, spelled), False).to_numpy(zero_copy_only=False)


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def text_without_nul(value: object) -> object:
    """Text with each NUL as ``SHOWN``; anything else as it is."""
    return value.replace(NUL, SHOWN) if isinstance(value, str) and NUL in value else value


def payload_without_nul(payload: object) -> object:
    """A payload whose NULs are written as the text ``SHOWN``, so that ``jsonb`` can hold it: in a JSON document
    the ``\\u0000`` escape becomes an escaped backslash and ``u0000``; text that is not JSON (a raw NUL never is)
    becomes a JSON string of that text, as a store keeps such text anyway (``BarStore.read_rejected``)."""
    if not isinstance(payload, str) or (NUL not in payload and "\\u0000" not in payload):
        return payload
    if NUL not in payload and is_json(payload):
        return _JSON_ESCAPE.sub(lambda m: m.group(1) + "\\\\u0000", payload)
    if NUL in payload:
        return json.dumps(payload.replace(NUL, SHOWN), ensure_ascii=False)
    return payload  # not JSON and no NUL: the text "\u0000" is just text
