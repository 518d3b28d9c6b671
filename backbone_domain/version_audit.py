"""Which bar versions a layer holds that the store no longer has (issue 14, item 4: retention of versions).

A version is named by (symbol, ts, ingested_at): the store keeps the current one in ``daily_bars`` and the
superseded ones in ``bar_versions`` until retention deletes them (``BarStore.prune_versions``). A layer derived
from the store (the hot cache, a Parquet export) holding a version the store has neither as current nor among
its kept versions serves something nobody can trace any more: a correction the layer missed, or a version the
store's retention deleted while the layer kept it. Plain Python so the rule is tested without a store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import pandas as pd

VERSION_KEY: Final = ("symbol", "ts", "ingested_at")


@dataclass(frozen=True)
class LayerVersions:
    """One layer's verdict: versions looked at, how many the store does not have, and the first few of them."""

    layer: str
    held: int
    unknown: int
    examples: tuple[str, ...]

    @property
    def consistent(self) -> bool:
        return self.unknown == 0


def unknown_versions(held: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``held`` whose (symbol, ts, ingested_at) is not among ``known``'s, in ``held``'s order.

    Both frames carry at least VERSION_KEY, ``ts`` and ``ingested_at`` tz-aware; compared as UTC instants to the
    microsecond (what every store keeps), so a layer that stored the stamp in another unit or zone still matches.
    """
    if held.empty:
        return held.loc[:, list(VERSION_KEY)]
    ours, theirs = _keys(held), _keys(known)
    found = ours.merge(theirs.drop_duplicates(), how="left", on=list(VERSION_KEY), indicator=True)
    return held.loc[(found["_merge"] == "left_only").to_numpy(), list(VERSION_KEY)]


def layer_versions(layer: str, held: pd.DataFrame, known: pd.DataFrame, examples: int = 5) -> LayerVersions:
    """The verdict for one layer: ``unknown_versions`` counted, with the first ``examples`` named."""
    missing = unknown_versions(held, known)
    named = tuple(
        f"{symbol} {_day(ts)} ingested {_stamp(at)}" for symbol, ts, at in missing.head(examples).itertuples(False)
    )
    return LayerVersions(layer, len(held), len(missing), named)


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    keys = frame.loc[:, list(VERSION_KEY)].reset_index(drop=True)
    for column in ("ts", "ingested_at"):
        keys[column] = pd.to_datetime(keys[column], utc=True).dt.as_unit("us")
    return keys


def _day(ts: pd.Timestamp) -> dt.date:
    return pd.Timestamp(ts).tz_convert("UTC").date()


def _stamp(at: pd.Timestamp) -> str:
    return pd.Timestamp(at).tz_convert("UTC").isoformat()
