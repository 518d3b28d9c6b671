"""Where each version of a bar came from, and what changed from one version to the next (docs/versions.md).

A validating run stamps every bar it accepts in a chunk with one ``ingested_at``; a ``BarLoad`` records which
run and source that stamp belongs to (the ``bar_loads`` table), so a version's provenance is one join away and
neither ``daily_bars`` nor ``bar_versions`` grows a column. The run that replaced a version is the load of its
``superseded_at``: a correction is superseded at the replacing bar's ``ingested_at``, a retirement at the
retiring load's.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pandas as pd

from backbone_domain.bars import VALUE_COLUMNS
from backbone_domain.hot_bars import window_start

if TYPE_CHECKING:
    from backbone_resources.store.base import BarStore

_EARLIEST: Final = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class BarLoad:
    """One stamp of a validating run: the bars it wrote (and retired) carry ``ingested_at``.

    ``run_id`` is the Dagster run, or None for a write made outside one (a benchmark, a script); ``source`` the
    source's name; first_day..last_day the chunk the stamp covers.
    """

    ingested_at: dt.datetime
    run_id: str | None
    source: str
    first_day: dt.date
    last_day: dt.date

    def __post_init__(self) -> None:
        if self.ingested_at.tzinfo is None:
            raise ValueError(f"ingested_at must be timezone-aware, got {self.ingested_at!r}")


# One row a version of one bar, oldest first (``BarStore.bar_history``):
# - known_from: the version's ingested_at; known_to: its superseded_at, NaT for the current version;
# - reason: why it stopped being current (corrected, retired), None for the current version;
# - run_id: the run that wrote it; replaced_by_run / replaced_by_source: the load that superseded it;
#   None when not recorded (written before bar_loads existed, or outside a run).
HISTORY_COLUMNS: Final = (
    "symbol",
    "ts",
    *VALUE_COLUMNS,
    "source",
    "known_from",
    "known_to",
    "reason",
    "run_id",
    "replaced_by_run",
    "replaced_by_source",
)
HISTORY_DTYPES: Final = (
    dict.fromkeys(HISTORY_COLUMNS, "object")
    | dict.fromkeys(VALUE_COLUMNS, "float64")
    | {
        "ts": "datetime64[us, UTC]",
        "known_from": "datetime64[us, UTC]",
        "known_to": "datetime64[us, UTC]",
    }
)
# What a version can differ in from the one before it.
COMPARED: Final = (*VALUE_COLUMNS, "source")


def changes(older: pd.Series, newer: pd.Series) -> dict[str, tuple[object, object]]:
    """The columns of COMPARED whose value differs between two versions, each as (old, new); a missing value
    (NaN adj_close) equals another missing value, as the store's IS DISTINCT FROM has it."""
    found: dict[str, tuple[object, object]] = {}
    for column in COMPARED:
        old, new = _plain(older[column]), _plain(newer[column])
        if old != new:
            found[column] = (old, new)
    return found


def _plain(value: object) -> object:
    """A value as JSON would have it: None for a missing number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value) if isinstance(value, (int, float)) else value


def known_then(
    store: BarStore, symbol: str, as_of: dt.datetime, *, on: dt.date | None = None, last: int = 1
) -> pd.DataFrame:
    """``symbol``'s bars as the store knew them at ``as_of`` (BAR_COLUMNS, oldest first): the bar of trading
    date ``on``, else the newest ``last`` of them. Always the store: the hot cache holds only current bars.

    A bar is validated no later than it is stamped and never dated after its stamp (``validate_bars`` refuses
    the future), so nothing known at ``as_of`` is dated after it: the window ends at ``as_of``'s date, and
    widens to the whole history only when it holds fewer than ``last`` bars.
    """
    if on is not None:
        return store.read_bars(on, on, [symbol], as_of=as_of)
    newest = as_of.astimezone(dt.UTC).date()
    bars = store.read_bars(window_start(newest, last), newest, [symbol], as_of=as_of)
    if len(bars) < last:
        bars = store.read_bars(_EARLIEST, newest, [symbol], as_of=as_of)
    return bars.tail(last).reset_index(drop=True)
