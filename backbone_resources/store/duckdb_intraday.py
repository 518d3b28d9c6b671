"""The DuckDB store's intraday statements: upsert and read of ``market_data.intraday_bars`` (migration 6).

Kept apart from ``duckdb_schema`` (the daily bars' statements) so each module stays one job; values travel as
``$name`` parameters or as the registered Arrow table ``incoming`` (``intraday_bars.intraday_table``).
"""

from __future__ import annotations

from typing import Final

# Same rule as the daily upsert: an older ingested_at never overwrites a newer one, and an unchanged bar is not
# touched, so a replayed session leaves the table as it was. DuckDB reports the rows inserted or updated.
UPSERT_INTRADAY: Final = """INSERT INTO market_data.intraday_bars
    SELECT symbol, session, ts, interval_s, open, high, low, close, volume, source, ingested_at FROM incoming
    ON CONFLICT (symbol, ts, interval_s) DO UPDATE SET
        session = excluded.session, open = excluded.open, high = excluded.high, low = excluded.low,
        close = excluded.close, volume = excluded.volume, source = excluded.source,
        ingested_at = excluded.ingested_at
    WHERE intraday_bars.ingested_at <= excluded.ingested_at
      AND (intraday_bars.session, intraday_bars.open, intraday_bars.high, intraday_bars.low, intraday_bars.close,
           intraday_bars.volume, intraday_bars.source)
          IS DISTINCT FROM (excluded.session, excluded.open, excluded.high, excluded.low, excluded.close,
           excluded.volume, excluded.source)"""
# $symbols is NULL for every symbol.
READ_INTRADAY: Final = """SELECT symbol, session, ts, interval_s, open, high, low, close, volume, source, ingested_at
    FROM market_data.intraday_bars
    WHERE session BETWEEN $start AND $end
      AND ($symbols::VARCHAR[] IS NULL OR list_contains($symbols::VARCHAR[], symbol))
    ORDER BY symbol, ts, interval_s"""
