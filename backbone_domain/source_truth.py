"""The source is the truth, visibly: where a re-run finds the store holding what the source no longer says.

The store upserts: a bar accepted once stays until a newer delivery replaces it. Two things can then leave the
store disagreeing with the source, silently until now (issue 13, D4):

- a correction that fails validation: the source now says something else for a stored key, the new row is
  quarantined, and the old value is still served;
- a row that vanished: the stored key is not in what the source now returns for its day.

``reconcile`` compares one validated chunk with the bars stored for the same days and says so in the rejected
rows (``backbone rejected`` shows them, the quality check counts them): the refused correction gets the reason
``KEPT``; a vanished bar gets a rejected row of its own, its payload the stored bar, kept or, with
``BACKBONE_VANISHED_ROWS=retire``, retired (deleted from the store's current view in the same transaction as the
chunk, and kept in ``bar_versions`` as superseded then: an as-of read before that moment still returns it).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

import pandas as pd

from backbone_domain.bars import KEY, VALUE_COLUMNS, empty_bars
from backbone_domain.validation import ValidationResult

KEPT: Final = "stored value kept: the bar stored earlier for this key is still served"
VANISHED_KEPT: Final = "no longer in the source: stored value kept (BACKBONE_VANISHED_ROWS=keep)"
VANISHED_RETIRED: Final = "no longer in the source: stored bar retired (BACKBONE_VANISHED_ROWS=retire)"
KEPT_REASONS: Final = (KEPT, VANISHED_KEPT)  # a rejected row holding one: its key's stored value stays served
Vanished = Literal["keep", "retire"]


@dataclass(frozen=True)
class Reconciled:
    result: ValidationResult  # the chunk's accepted bars, and its rejected rows with the reports added
    retired: pd.DataFrame  # keys (symbol, ts) to delete from the store with this chunk's write
    kept: int  # rejected rows whose stored value stays served (refused corrections and vanished rows kept)


def reconcile(
    result: ValidationResult, stored: pd.DataFrame, start: dt.date, end: dt.date, vanished: Vanished = "keep"
) -> Reconciled:
    """``stored``: the bars the store holds for [start, end] (BAR_COLUMNS), before this chunk is written."""
    if stored.empty:
        return Reconciled(result, empty_bars()[list(KEY)], 0)
    stored_keys = pd.MultiIndex.from_frame(stored[list(KEY)])
    accepted = pd.MultiIndex.from_frame(result.accepted[list(KEY)])
    rejected = result.rejected.copy()
    has_key = rejected["symbol"].notna().to_numpy() & rejected["ts"].notna().to_numpy()
    keys = pd.MultiIndex.from_arrays([rejected["symbol"].where(has_key, ""), rejected["ts"]])
    refused = has_key & keys.isin(stored_keys) & ~keys.isin(accepted)
    rejected["reasons"] = [[*r, KEPT] if hit else r for r, hit in zip(rejected["reasons"], refused, strict=True)]

    gone = stored[~stored_keys.isin(accepted) & ~stored_keys.isin(keys[has_key])]
    reason = VANISHED_RETIRED if vanished == "retire" else VANISHED_KEPT
    reports = pd.DataFrame(
        {
            "symbol": gone["symbol"].astype(object),
            "ts": gone["ts"],
            "partition_date": [t.date() for t in gone["ts"]],
            "source": gone["source"].astype(object),
            "payload": [_stored_payload(row) for row in gone.itertuples(index=False)],
            "reasons": [[reason] for _ in range(len(gone))],
            "rejected_at": pd.Series(pd.NaT, index=gone.index, dtype=rejected["rejected_at"].dtype),
        }
    )
    outside = [d for d in reports["partition_date"] if not start <= d <= end]
    if outside:  # stored bars are read by their date: cannot happen unless the caller read another range
        raise ValueError(f"stored bars dated {outside[:3]} fall outside [{start}, {end}]")
    combined = pd.concat([rejected, reports], ignore_index=True) if len(reports) else rejected
    retired = gone[list(KEY)].reset_index(drop=True) if vanished == "retire" else empty_bars()[list(KEY)]
    kept = int(refused.sum()) + (len(gone) if vanished == "keep" else 0)
    return Reconciled(ValidationResult(result.accepted, combined), retired, kept)


def verdict(kept: int) -> tuple[bool, str]:
    """The rule the check and ``backbone status`` share: the store serves only what the source says."""
    if not kept:
        return True, "the store holds what the source says"
    return False, (
        f"{kept} stored bar(s) are served although the source no longer says so (a refused correction or a "
        "vanished row): `backbone rejected` marks them 'stored value kept'"
    )


def _stored_payload(row: Any) -> str:
    """The stored bar the report is about, as the rejected row's payload."""
    values = {c: (None if pd.isna(v := getattr(row, c)) else float(v)) for c in VALUE_COLUMNS}
    return json.dumps({"stored": values, "ingested_at": row.ingested_at.isoformat()})
