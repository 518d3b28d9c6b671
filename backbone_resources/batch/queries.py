"""The SQL both engines run, in the dialect DuckDB and Spark SQL share, so the two cannot drift apart.

Each engine registers two views before running these: ``staged`` (the Parquet files an asset staged from the
store) and ``bars`` / ``returns`` (an export dataset, with ``symbol`` text and ``year`` integer from the
Hive directories). Both sessions run in UTC, so ``year(ts)`` is the trading date's year.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from backbone_domain.returns import ANNUALIZATION_DAYS, VOL_WINDOW
from backbone_resources.batch.base import DatasetProfile

STAGED_BARS = """SELECT symbol, CAST(year(ts) AS INT) AS year, ts, open, high, low, close, adj_close, volume,
       source, ingested_at
FROM staged"""

# The last VOL_WINDOW + 1 closes before the first year give the first day's return and a full window of
# earlier returns (the oldest of those closes only serves as the previous close of the next).
#
# Exact reproducibility: the volatility is NOT stddev_samp() OVER a frame. A windowed aggregate is free to
# combine partial states in whatever order its implementation picks (DuckDB's segment trees, Spark's
# frame buffers), so its last bits depend on the engine and its version. Instead every row gets its
# VOL_WINDOW returns as lag() columns and a two-pass formula sums them in one fixed order: every operation
# is an IEEE-754 +, -, *, / or sqrt, correctly rounded, so each engine gives the same bits on every run and
# the engines differ only where their ln() does (Java's vs C's log, at most an ulp).
_RETURNS = """WITH src AS (
    SELECT symbol, ts, close FROM bars WHERE year BETWEEN {first} AND {last}
    UNION ALL
    SELECT symbol, ts, close FROM (
        SELECT symbol, ts, close, row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) AS back
        FROM bars WHERE year < {first}
    ) earlier WHERE back <= {lookback}
), r AS (
    SELECT symbol, ts, ln(close / lag(close) OVER (PARTITION BY symbol ORDER BY ts)) AS log_return FROM src
), lagged AS (
    SELECT symbol, ts, log_return, {lags} FROM r WINDOW w AS (PARTITION BY symbol ORDER BY ts)
), centred AS (
    SELECT symbol, ts, log_return, {lag_names}, ({lag_sum}) / CAST({window} AS DOUBLE) AS mean FROM lagged
), v AS (
    SELECT symbol, ts, log_return, sqrt(({squares}) / CAST({dof} AS DOUBLE)) * sqrt(CAST({annualization} AS DOUBLE))
        AS realized_vol_20d
    FROM centred
)
SELECT symbol, CAST(year(ts) AS INT) AS year, ts, log_return, realized_vol_20d
FROM v WHERE year(ts) >= {first}"""

# Rows per year, then one row with a NULL year holding the duplicate (symbol, ts) keys: one query, so Spark
# plans both aggregations as one job set (each separate query costs it a few jobs of fixed overhead).
PROFILE = """SELECT year, count(*) AS n FROM {dataset} GROUP BY year
UNION ALL
SELECT CAST(NULL AS INT) AS year, coalesce(sum(n - 1), 0) AS n
FROM (SELECT count(*) AS n FROM {dataset} GROUP BY symbol, ts HAVING count(*) > 1) dup"""
COVERAGE = """SELECT symbol, CAST(min(ts) AS DATE) AS first_day, CAST(max(ts) AS DATE) AS last_day, count(*) AS n
FROM {dataset} GROUP BY symbol"""


VERSIONS = "SELECT symbol, ts, ingested_at FROM {dataset} ORDER BY symbol, ts"


def returns_sql(first_year: int, last_year: int) -> str:
    """The daily_returns rows of [first_year, last_year] over the ``bars`` view (years are ints: no injection).

    A NULL anywhere among a row's VOL_WINDOW returns (fewer than VOL_WINDOW returns so far) makes its
    volatility NULL, which is the "null until 20 returns exist" rule without a count."""
    names = [f"r{k:02d}" for k in range(VOL_WINDOW)]
    return _RETURNS.format(
        first=int(first_year),
        last=int(last_year),
        lookback=VOL_WINDOW + 1,
        # r00 is the row's own return, r01 the previous one, ...
        lags=", ".join(
            ["log_return AS r00"] + [f"lag(log_return, {k}) OVER w AS {n}" for k, n in enumerate(names) if k]
        ),
        lag_names=", ".join(names),
        lag_sum=" + ".join(names),
        squares=" + ".join(f"({n} - mean) * ({n} - mean)" for n in names),
        window=VOL_WINDOW,
        dof=VOL_WINDOW - 1,
        annualization=ANNUALIZATION_DAYS,
    )


def profile_of(rows: Iterable[Sequence[Any]]) -> DatasetProfile:
    """The DatasetProfile of PROFILE's result rows, (year, n) pairs and the NULL-year duplicates row."""
    pairs = [(year, int(n)) for year, n in rows]
    return DatasetProfile({int(y): n for y, n in pairs if y is not None}, sum(n for y, n in pairs if y is None))


def over(template: str, dataset: str) -> str:
    """A profile query over the named view."""
    if dataset not in ("bars", "returns"):
        raise ValueError(f"unknown view {dataset!r}")
    return template.format(dataset=dataset)
