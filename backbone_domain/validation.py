"""Bar validation: a raw frame in, accepted bars and quarantined rows out, and nothing dropped on the way.

``validate_bars`` applies the rules of ``validation_rules`` (types, finiteness, signs, OHLC consistency,
symbol format, readable midnight-UTC dates neither in the future nor before the first partition, duplicate
keys, no NUL byte in any text: PostgreSQL cannot store one, see ``nul_bytes``) and splits the batch. Every raw
row ends up in exactly one of the two frames; a rejected row carries one readable reason per broken rule.

Why masks decide and pandera declares: the rules are vectorized numpy masks and reason strings are written
only for failing rows. Reasons from pandera's ``SchemaErrors.failure_cases`` were measured first (pandera
0.35, this 2-core machine): lazy collection writes one failure-case row per (row, column, check), and one
per column for a frame-wide check such as OHLC, so 1% bad rows in 1M cost ~0.4 s and 1M bad rows ~20 s
(a 33k chunk of a shifted CSV ~0.5 s); and telling "missing" from "not a number" from "not finite" needs
the raw value, which failure cases do not carry. pandera holds the contract of both outputs instead:
``ACCEPTED_SCHEMA`` (exact columns and order, dtypes, nullability, finite positive prices, OHLC, symbol
format, midnight ts, unique key) and ``REJECTED_SCHEMA``. Every call validates them at ``SCHEMA_ONLY`` depth
(columns, order, dtypes, nulls: ~7 ms a call, and what pandas 3's ``str`` inference would quietly break);
the data checks repeat what the masks just decided, so they run at full depth in the tests, over every
result including a random-garbage batch, and are there for callers that check stored bars.

Numbers: numeric columns are taken as they are (NaN there means missing); text goes through
``pd.to_numeric(errors="coerce")``, so "1e3", "+3" and " 12.5 " parse while "1,234.5" (thousands
separators), "1_000" and "12.5 USD" are rejected as not a number; bools are not numbers. The text "nan" and
"inf" are numbers that are not finite. adj_close may be missing (stored as NULL); if present it must be a
finite positive number. Rejected payload: the source's ``payload`` when it gave one, else
``validation_payload.rows_json`` of the raw row.

Cost, 1M synthetic float bars (500 symbols x 2000 days), best of 7 on the shared 2-core machine: clean in one
call ~0.18 s, in 30 chunks of 33k ~0.40-0.48 s, in 67 chunks of 15k ~0.60 s (per call, ~7 ms of that is the
pandera guard); with 1% bad rows ~0.44 s in one call, ~0.75 s in 33k chunks. A batch where every row fails
costs ~10 us a row, mostly float repr for the payload JSON. Landed text (a csv backfill: every value a string,
a JSON payload per row), one 150k-row chunk, best of 7 at load ~2.4: ~0.11 s clean, ~0.29 s with 1% bad rows
(a column with one odd spelling goes through ``pd.to_numeric``); ~0.27 s and ~0.40 s before plain decimals were
told by their bytes (``validation_rules``) and a NUL-free column by one search of its joined text (``nul_bytes``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.config import ValidationDepth, config_context

from backbone_domain.bars import (
    KEY,
    PRICE_COLUMNS,
    RAW_COLUMNS,
    SYMBOL_PATTERN,
    VALUE_COLUMNS,
    empty_rejected,
)
from backbone_domain.nul_bytes import payload_without_nul, text_without_nul
from backbone_domain.validation_payload import rows_json
from backbone_domain.validation_rules import (
    Failures,
    duplicate_failures,
    is_null,
    nul_failures,
    number_failures,
    ohlc_failures,
    parse_numbers,
    symbol_failures,
    ts_failures,
)

_UTC_US = pd.DatetimeTZDtype(unit="us", tz="UTC")
_FINITE = pa.Check(np.isfinite, name="finite")

ACCEPTED_SCHEMA = pa.DataFrameSchema(
    {
        "symbol": pa.Column(object, pa.Check.str_matches(SYMBOL_PATTERN.pattern)),
        "ts": pa.Column(_UTC_US, pa.Check(lambda s: s == s.dt.normalize(), name="midnight")),
        **{c: pa.Column("float64", [_FINITE, pa.Check.gt(0)]) for c in PRICE_COLUMNS},
        "adj_close": pa.Column("float64", [_FINITE, pa.Check.gt(0)], nullable=True),
        "volume": pa.Column("float64", [_FINITE, pa.Check.ge(0)]),
        "source": pa.Column(object, nullable=True),
        "ingested_at": pa.Column(_UTC_US),
    },
    checks=[
        pa.Check(lambda f: f["low"] <= np.minimum(f["open"], f["close"]), name="low_below_open_close"),
        pa.Check(lambda f: f["high"] >= np.maximum(f["open"], f["close"]), name="high_above_open_close"),
    ],
    unique=list(KEY),
    strict=True,
    ordered=True,
)
REJECTED_SCHEMA = pa.DataFrameSchema(
    {
        "symbol": pa.Column(object, nullable=True),
        "ts": pa.Column(_UTC_US, nullable=True),
        "partition_date": pa.Column(object, nullable=True),
        "source": pa.Column(object, nullable=True),
        "payload": pa.Column(object, pa.Check(lambda s: s.map(lambda v: isinstance(v, str)), name="is_text")),
        "reasons": pa.Column(object, pa.Check(lambda s: s.map(len) > 0, name="has_reasons")),
        "rejected_at": pa.Column(_UTC_US),
    },
    strict=True,
    ordered=True,
)


_NO_REJECTS = empty_rejected()  # built once: a clean chunk would otherwise pay ~3 ms to build it


@dataclass(frozen=True, eq=False)
class ValidationResult:
    """The two halves of a validated batch; ``total`` always equals the raw row count."""

    accepted: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.rejected)


def validate_bars(
    raw: pd.DataFrame,
    *,
    now: dt.datetime | None = None,
    ingested_at: dt.datetime | None = None,
    first_day: dt.date | None = None,
) -> ValidationResult:
    """Split a raw frame (``bars.RAW_COLUMNS``) into accepted bars and rejected rows with reasons.

    ``now`` (tz-aware, default the clock) decides what is in the future; ``ingested_at`` (default ``now``)
    stamps accepted rows, and rejected rows as ``rejected_at``; ``first_day`` (the first partition, if any)
    what is too early.
    """
    absent = [c for c in RAW_COLUMNS if c not in raw.columns]
    if absent:
        raise ValueError(f"raw frame lacks columns {absent}; expected bars.RAW_COLUMNS")
    clock = _utc(now if now is not None else dt.datetime.now(dt.UTC), "now")
    stamp = _utc(ingested_at, "ingested_at") if ingested_at is not None else clock

    ts = _utc_ts(raw["ts"])
    parsed = {c: parse_numbers(raw[c]) for c in VALUE_COLUMNS}
    symbol_rule, codes = symbol_failures(raw["symbol"])
    date_rules, day = ts_failures(ts, clock.date(), first_day)
    rules: list[Failures] = [
        symbol_rule,
        *date_rules,
        *(
            number_failures(c, raw[c], parsed[c], optional=c == "adj_close", positive=c != "volume")
            for c in VALUE_COLUMNS
        ),
        *ohlc_failures(*(parsed[c].values for c in PRICE_COLUMNS)),
        nul_failures("symbol", raw["symbol"], symbol_rule.mask),
        *(nul_failures(c, raw[c], parsed[c].unreadable) for c in VALUE_COLUMNS),
        nul_failures("source", raw["source"]),
        nul_failures("payload", raw["payload"]),
    ]
    bad = np.logical_or.reduce([r.mask for r in rules])
    duplicates = duplicate_failures(~bad, codes, day, [parsed[c].values for c in VALUE_COLUMNS], raw["symbol"])
    rules.append(duplicates)
    bad |= duplicates.mask

    accepted = _accepted(raw, ts, parsed, np.flatnonzero(~bad), stamp)
    rejected = _rejected(raw, ts, rules, np.flatnonzero(bad), stamp)
    with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):  # see the module docstring
        ACCEPTED_SCHEMA.validate(accepted)
        if len(rejected):  # the usual, empty one is a copy of a frame checked by the tests
            REJECTED_SCHEMA.validate(rejected)
    return ValidationResult(accepted, rejected)


def _utc(moment: dt.datetime, name: str) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return stamp.tz_convert("UTC")


def _utc_ts(column: pd.Series) -> pd.Series:
    """The ts column as tz-aware UTC; anything unreadable becomes NaT (and is rejected as such)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column if str(column.dtype.tz) == "UTC" else column.dt.tz_convert("UTC")
    return pd.to_datetime(column, utc=True, errors="coerce")


def _constant(stamp: pd.Timestamp, length: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.full(length, stamp.tz_convert(None).as_unit("us").asm8)).tz_localize("UTC")


def _accepted(raw: pd.DataFrame, ts: pd.Series, parsed: dict, rows: np.ndarray, stamp: pd.Timestamp) -> pd.DataFrame:
    everything = len(rows) == len(raw)

    def pick(values: np.ndarray) -> np.ndarray:
        return values if everything else values[rows]

    columns = {
        "symbol": pd.Series(pick(raw["symbol"].to_numpy(dtype=object)), dtype=object, copy=False),
        "ts": pd.Series(pick(ts.array).as_unit("us"), copy=False),
        **{c: pick(parsed[c].values) for c in VALUE_COLUMNS},
        "source": pd.Series(pick(raw["source"].to_numpy(dtype=object)), dtype=object, copy=False),
        "ingested_at": _constant(stamp, len(rows)),
    }
    return pd.DataFrame(columns)  # in BAR_COLUMNS order, which the schema checks


def _rejected(
    raw: pd.DataFrame, ts: pd.Series, rules: list[Failures], rows: np.ndarray, stamp: pd.Timestamp
) -> pd.DataFrame:
    if not len(rows):
        return _NO_REJECTS.copy()
    slot = np.full(len(raw), -1)
    slot[rows] = np.arange(len(rows))
    reasons: list[list[str]] = [[] for _ in rows]
    for rule in rules:
        hit = np.flatnonzero(rule.mask)
        if len(hit):
            for at, reason in zip(slot[hit], rule.describe(hit), strict=True):
                reasons[at].append(reason)

    ts_rows = ts.array.take(rows).as_unit("us")
    payloads = raw["payload"].take(rows).to_numpy(dtype=object, copy=True)
    unkept = np.flatnonzero([is_null(p) for p in payloads])
    if len(unkept):
        payloads[unkept] = rows_json(raw.take(rows[unkept]), ts_rows.take(unkept))
    payloads = [payload_without_nul(p) for p in payloads]  # PostgreSQL cannot store a NUL (nul_bytes)
    symbols = raw["symbol"].take(rows).to_numpy(dtype=object)
    columns = {
        "symbol": pd.Series([None if is_null(s) else text_without_nul(str(s)) for s in symbols], dtype=object),
        "ts": pd.Series(ts_rows),
        "partition_date": pd.Series(raw["partition_date"].take(rows).to_numpy(dtype=object), dtype=object),
        "source": pd.Series([text_without_nul(s) for s in raw["source"].take(rows)], dtype=object),
        "payload": pd.Series(payloads, dtype=object),
        "reasons": pd.Series(reasons, dtype=object),
        "rejected_at": _constant(stamp, len(rows)),
    }
    return pd.DataFrame(columns)  # in REJECTED_COLUMNS order, which the schema checks
