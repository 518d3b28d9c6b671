"""The daily bar and the three frames it travels in: raw (as the source said it), accepted, rejected.

Frames are pandas DataFrames with fixed columns so that every backend (DuckDB, PostgreSQL, later Redis, Kafka
and Spark) agrees on names and types without a mapping layer. Timestamps are tz-aware UTC; ``ts`` is midnight
UTC of the trading date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

import pandas as pd

KEY: Final = ("symbol", "ts")
# Tickers as exchanges and Yahoo write them (AAPL, BRK.B, EURUSD=X, ^GSPC), upper case. \Z, not $: "$" also
# matches before a final newline, which let "AAPL\n" through (found by test_validation_properties).
SYMBOL_PATTERN: Final = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,19}\Z")
PRICE_COLUMNS: Final = ("open", "high", "low", "close")
VALUE_COLUMNS: Final = (*PRICE_COLUMNS, "adj_close", "volume")

# A validated bar, as stored. adj_close may be NaN (stored as NULL).
BAR_COLUMNS: Final = ("symbol", "ts", *VALUE_COLUMNS, "source", "ingested_at")
BAR_DTYPES: Final = {
    "symbol": "object",
    "ts": "datetime64[us, UTC]",
    "open": "float64",
    "high": "float64",
    "low": "float64",
    "close": "float64",
    "adj_close": "float64",
    "volume": "float64",
    "source": "object",
    "ingested_at": "datetime64[us, UTC]",
}

# What a source returned, before validation:
# - ts: the trading date as midnight UTC, or NaT when the source could not read the date;
# - open..volume: the values as the source had them (numbers, or text from a file), never coerced;
# - partition_date: the trading date the row belongs to (for an unreadable date, the one the source chose);
# - payload: JSON of the original record with its provenance (file, line), or None when the row is the record.
RAW_COLUMNS: Final = ("symbol", "ts", *VALUE_COLUMNS, "source", "partition_date", "payload")
# Values, payload and symbol as text (None for NULL), partition_date as datetime.date.
RAW_DTYPES: Final = dict.fromkeys(RAW_COLUMNS, "object") | {"ts": "datetime64[us, UTC]"}

# A quarantined row: what came in (payload), why it was refused (reasons), where it belongs.
REJECTED_COLUMNS: Final = ("symbol", "ts", "partition_date", "source", "payload", "reasons", "rejected_at")
# payload as text, reasons a list[str], partition_date as datetime.date.
REJECTED_DTYPES: Final = dict.fromkeys(REJECTED_COLUMNS, "object") | {
    "ts": "datetime64[us, UTC]",
    "rejected_at": "datetime64[us, UTC]",
}

# One row a week and symbol: first open, max high, min low, last close, summed volume (ISO weeks, Monday start).
WEEKLY_COLUMNS: Final = ("symbol", "week", "open", "high", "low", "close", "volume", "bars")
WEEKLY_DTYPES: Final = dict.fromkeys(WEEKLY_COLUMNS, "float64") | {
    "symbol": "object",
    "week": "datetime64[us, UTC]",
    "bars": "int64",
}

# An intraday bar as a source returns it: ``ts`` = start of its interval (UTC), which lasts ``interval_s``
# seconds or ends at the session's close; ``session`` = the trading date (datetime.date) of its daily bar.
INTRADAY_COLUMNS: Final = ("symbol", "session", "ts", "interval_s", *PRICE_COLUMNS, "volume", "source")


def utc_midnight(day: dt.date) -> pd.Timestamp:
    """The bar timestamp of a trading date."""
    return pd.Timestamp(day.year, day.month, day.day, tz="UTC")


def empty_bars() -> pd.DataFrame:
    return _empty(BAR_DTYPES)


def empty_raw() -> pd.DataFrame:
    return _empty(RAW_DTYPES)


def empty_rejected() -> pd.DataFrame:
    return _empty(REJECTED_DTYPES)


def _empty(dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})
