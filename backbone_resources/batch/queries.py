"""The SQL both engines run, in the dialect DuckDB and Spark SQL share, so the two cannot drift apart.

Each engine registers two views before running these: ``staged`` (the Parquet files an asset staged from the
store) and ``bars`` / ``returns`` (an export dataset, with ``symbol`` text and ``year`` integer from the
Hive directories). Both sessions run in UTC, so ``year(ts)`` is the trading date's year.
"""

from __future__ import annotations

from backbone_domain.returns import ANNUALIZATION_DAYS, VOL_WINDOW

STAGED_BARS = """SELECT symbol, CAST(year(ts) AS INT) AS year, ts, open, high, low, close, adj_close, volume,
       source, ingested_at
FROM staged"""

# The last VOL_WINDOW + 1 closes before the first year give the first day's return and a full window of
# earlier returns (the oldest of those closes only serves as the previous close of the next).
_RETURNS = """WITH src AS (
    SELECT symbol, ts, close FROM bars WHERE year BETWEEN {first} AND {last}
    UNION ALL
    SELECT symbol, ts, close FROM (
        SELECT symbol, ts, close, row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) AS back
        FROM bars WHERE year < {first}
    ) earlier WHERE back <= {lookback}
), r AS (
    SELECT symbol, ts, ln(close / lag(close) OVER (PARTITION BY symbol ORDER BY ts)) AS log_return FROM src
), v AS (
    SELECT symbol, ts, log_return,
        CASE WHEN count(log_return) OVER w = {window}
             THEN stddev_samp(log_return) OVER w * sqrt({annualization}) END AS realized_vol_20d
    FROM r
    WINDOW w AS (PARTITION BY symbol ORDER BY ts ROWS BETWEEN {preceding} PRECEDING AND CURRENT ROW)
)
SELECT symbol, CAST(year(ts) AS INT) AS year, ts, log_return, realized_vol_20d
FROM v WHERE year(ts) >= {first}"""

ROWS_BY_YEAR = "SELECT year, count(*) AS n FROM {dataset} GROUP BY year"
DUPLICATE_KEYS = """SELECT coalesce(sum(n - 1), 0) AS duplicates
FROM (SELECT count(*) AS n FROM {dataset} GROUP BY symbol, ts HAVING count(*) > 1) dup"""
COVERAGE = """SELECT symbol, CAST(min(ts) AS DATE) AS first_day, CAST(max(ts) AS DATE) AS last_day, count(*) AS n
FROM {dataset} GROUP BY symbol"""


def returns_sql(first_year: int, last_year: int) -> str:
    """The daily_returns rows of [first_year, last_year] over the ``bars`` view (years are ints: no injection)."""
    return _RETURNS.format(
        first=int(first_year),
        last=int(last_year),
        lookback=VOL_WINDOW + 1,
        window=VOL_WINDOW,
        preceding=VOL_WINDOW - 1,
        annualization=ANNUALIZATION_DAYS,
    )


def over(template: str, dataset: str) -> str:
    """A profile query over the named view."""
    if dataset not in ("bars", "returns"):
        raise ValueError(f"unknown view {dataset!r}")
    return template.format(dataset=dataset)
