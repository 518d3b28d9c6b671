"""The statements of the PostgreSQL bar store, composed from identifiers with ``psycopg.sql``.

Identifiers (the configurable schema, a staging table's name) are composed here; every value travels as a
``%s`` parameter. Timestamps are selected as epoch microseconds (``postgres_copy.epoch_us``) so reads do not
depend on the session's DateStyle or TimeZone.
"""

from __future__ import annotations

from psycopg import sql

from backbone_domain.bars import BAR_COLUMNS, KEY
from backbone_domain.quarantined_files import QUARANTINED_FILE_COLUMNS
from backbone_resources.store.postgres_copy import REJECTED_COPY_COLUMNS, epoch_us


class Statements:
    """Statements over one schema's tables."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.daily = sql.Identifier(schema, "daily_bars")
        self.raw = sql.Identifier(schema, "raw_bars")  # rows landed before raw_batches, read until replaced
        self.raw_batches = sql.Identifier(schema, "raw_batches")
        self.rejected = sql.Identifier(schema, "rejected_bars")
        self.weekly = sql.Identifier(schema, "weekly_bars")
        self.quarantined = sql.Identifier(schema, "quarantined_files")
        self.versions = sql.Identifier(schema, "bar_versions")
        self.loads = sql.Identifier(schema, "bar_loads")

    def delete_keys(self) -> sql.Composed:
        """Retire the bars keyed by two parallel arrays, symbols (text[]) and their ts (timestamptz[]): deleted,
        and kept in ``bar_versions`` as superseded at the third parameter (the retiring load's stamp), or now
        when it is NULL."""
        kept = sql.SQL(", ").join(map(sql.Identifier, BAR_COLUMNS))
        return sql.SQL(
            "WITH gone AS (DELETE FROM {daily}"
            " WHERE (symbol, ts) IN (SELECT * FROM unnest(%s::text[], %s::timestamptz[])) RETURNING {kept})"
            " INSERT INTO {versions} SELECT *, coalesce(%s::timestamptz, now()), 'retired' FROM gone"
        ).format(daily=self.daily, kept=kept, versions=self.versions)

    def record_load(self) -> sql.Composed:
        """Record a load (ingested_at, run_id, source, first_day, last_day); a run stamping several chunks alike
        (a fixed clock) records one load spanning them, and the first run to use a stamp keeps it."""
        return sql.SQL(
            "INSERT INTO {loads} AS l (ingested_at, run_id, source, first_day, last_day)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (ingested_at) DO UPDATE SET"
            " first_day = least(l.first_day, excluded.first_day), last_day = greatest(l.last_day, excluded.last_day)"
            " WHERE l.run_id IS NOT DISTINCT FROM excluded.run_id"
        ).format(loads=self.loads)

    def bar_history(self) -> sql.Composed:
        """Every version of one bar (parameters: symbol, [midnight, next midnight) of its date twice), oldest
        first, with the loads that wrote and replaced it; the values as ``read_bars`` has them."""
        values = sql.SQL("symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at")
        return sql.SQL(
            "SELECT v.symbol, {ts}, v.open, v.high, v.low, v.close, v.adj_close, v.volume, v.source,"
            " {known_from}, {known_to}, v.reason, w.run_id, r.run_id, r.source FROM ("
            "SELECT {values}, superseded_at AS known_to, reason FROM {versions}"
            " WHERE symbol = %s AND ts >= %s AND ts < %s"
            " UNION ALL SELECT {values}, NULL::timestamptz, NULL::text FROM {daily}"
            " WHERE symbol = %s AND ts >= %s AND ts < %s) AS v"
            " LEFT JOIN {loads} AS w ON w.ingested_at = v.ingested_at"
            " LEFT JOIN {loads} AS r ON r.ingested_at = v.known_to"
            " ORDER BY v.ts, v.ingested_at, v.known_to NULLS LAST"
        ).format(
            ts=epoch_us("v", "ts"),
            known_from=epoch_us("v", "ingested_at"),
            known_to=epoch_us("v", "known_to"),
            values=values,
            versions=self.versions,
            daily=self.daily,
            loads=self.loads,
        )

    def version_keys(self, with_symbols: bool) -> sql.Composed:
        """(symbol, ts, ingested_at) of the current and the kept versions in [start, stop) (``version_keys``)."""
        return sql.SQL(
            "SELECT symbol, {ts}, {ingested} FROM ("
            "SELECT symbol, ts, ingested_at FROM {daily} UNION ALL SELECT symbol, ts, ingested_at FROM {versions}"
            ") AS held WHERE ts >= %s AND ts < %s{only} ORDER BY symbol, ts, ingested_at"
        ).format(
            ts=epoch_us("ts"),
            ingested=epoch_us("ingested_at"),
            daily=self.daily,
            versions=self.versions,
            only=_only_symbols(with_symbols),
        )

    def prune_versions(self) -> sql.Composed:
        """Delete the versions superseded before the parameter (retention: ``BarStore.prune_versions``)."""
        return sql.SQL("DELETE FROM {} WHERE superseded_at < %s").format(self.versions)

    def prune_loads(self) -> sql.Composed:
        """Delete the loads stamped before the parameter that no current bar and no kept version refers to. Run
        only after versions went (nothing else orphans a load); the daily_bars lookup is one anti-join."""
        return sql.SQL(
            "DELETE FROM {loads} AS l WHERE l.ingested_at < %(before)s"
            " AND NOT EXISTS (SELECT 1 FROM {versions} AS v"
            " WHERE v.ingested_at = l.ingested_at OR v.superseded_at = l.ingested_at)"
            " AND NOT EXISTS (SELECT 1 FROM {daily} AS d"
            " WHERE d.ingested_at = l.ingested_at AND d.ingested_at < %(before)s)"
        ).format(loads=self.loads, versions=self.versions, daily=self.daily)

    def version_counts(self) -> sql.Composed:
        """Current bars, kept versions, the earliest superseded_at (epoch microseconds, as every read has it)."""
        return sql.SQL(
            "SELECT (SELECT count(*) FROM {daily}), count(*),"
            " (extract(epoch FROM min(superseded_at)) * 1000000)::bigint FROM {versions}"
        ).format(daily=self.daily, versions=self.versions)

    def delete_quarantined(self) -> sql.Composed:
        return sql.SQL("DELETE FROM {} WHERE source = %s").format(self.quarantined)

    def insert_quarantined(self) -> sql.Composed:
        columns = sql.SQL(", ").join(map(sql.Identifier, QUARANTINED_FILE_COLUMNS))
        values = sql.SQL(", ").join(sql.Placeholder() * len(QUARANTINED_FILE_COLUMNS))
        return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(self.quarantined, columns, values)

    def read_quarantined(self) -> sql.Composed:
        columns = sql.SQL(", ").join(map(sql.Identifier, QUARANTINED_FILE_COLUMNS))
        return sql.SQL("SELECT {} FROM {} ORDER BY source, path").format(columns, self.quarantined)

    @staticmethod
    def delete_partitions(table: sql.Identifier) -> sql.Composed:
        return sql.SQL("DELETE FROM {} WHERE partition_date BETWEEN %s AND %s").format(table)

    def any_stored(self) -> sql.Composed:
        """Whether a stored bar falls in the box (symbols x [first ts, last ts]); walks the primary key."""
        return sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE symbol = ANY(%s) AND ts BETWEEN %s AND %s)").format(
            self.daily
        )

    def create_stage(self, stage: sql.Identifier) -> sql.Composed:
        return sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(stage, self.daily)

    @staticmethod
    def _changes() -> sql.Composed:
        """What makes a staged bar a change of the stored one: same key, other values, stored version not newer."""
        values = [c for c in BAR_COLUMNS if c not in KEY and c != "ingested_at"]
        stored = sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(c)) for c in values)
        staged = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in values)
        return sql.SQL(
            "d.symbol = s.symbol AND d.ts = s.ts AND d.ingested_at <= s.ingested_at"
            " AND ({stored}) IS DISTINCT FROM ({staged})"
        ).format(stored=stored, staged=staged)

    def delete_replaced(self, stage: sql.Identifier) -> sql.Composed:
        """Delete the stored bars that a staged bar replaces (same key, values changed, stored version not
        newer), keeping each in ``bar_versions`` as superseded by the staged bar's ``ingested_at``.

        Parameters: the staged symbols and their first and last ts, so that the join walks the primary key
        (and TimescaleDB excludes chunks) instead of scanning the table.
        """
        joined = self._changes()
        kept = sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(c)) for c in BAR_COLUMNS)
        return sql.SQL(
            "WITH gone AS (DELETE FROM {daily} AS d USING {stage} AS s"
            " WHERE d.symbol = ANY(%s) AND d.ts BETWEEN %s AND %s AND {joined}"
            " RETURNING {kept}, s.ingested_at AS superseded_at)"
            " INSERT INTO {versions} SELECT *, 'corrected' FROM gone"
        ).format(daily=self.daily, stage=stage, joined=joined, kept=kept, versions=self.versions)

    def changed_keys(self, stage: sql.Identifier) -> sql.Composed:
        """The staged bars that change a stored bar: (symbol, ts, the staged ingested_at). A read: on TimescaleDB
        it decompresses compressed batches in memory only; nothing leaves the columnstore.

        Parameters: the staged symbols and their first and last ts, so that the join walks the primary key
        (and TimescaleDB excludes chunks) instead of scanning the table.
        """
        joined = self._changes()
        return sql.SQL(
            "SELECT s.symbol, s.ts, s.ingested_at FROM {daily} AS d JOIN {stage} AS s ON {joined}"
            " WHERE d.symbol = ANY(%s) AND d.ts BETWEEN %s AND %s"
        ).format(daily=self.daily, stage=stage, joined=joined)

    def delete_changed_keys(self) -> sql.Composed:
        """``delete_replaced`` for a compressed hypertable, in two steps: delete the stored bars ``changed_keys``
        found, keeping each in ``bar_versions`` as superseded by the staged bar's ``ingested_at``, unless a newer
        one was stored meanwhile.

        Parameters (named): ``keys_symbol``, ``keys_ts``, ``keys_superseded_at``, the changed keys as parallel
        arrays; ``symbols`` and ``days``, their distinct symbols and ts; ``first`` and ``last``, their ts range.
        The last four are constants the planner sees: TimescaleDB moves out of a compressed chunk only the
        batches (one symbol's run within a chunk: ``compress_segmentby = 'symbol'``) of a changed symbol whose
        ts range and rows hold one of the changed ts. A join condition filters nothing there: joined to the
        staged table alone, every batch of every staged symbol in the staged range left the columnstore, changed
        or not (docs/versions.md, "Corrections in compressed chunks"). On plain PostgreSQL the extra read would
        only cost time (docs/benchmarks.md): ``delete_replaced`` does it in one statement there.
        """
        kept = sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(c)) for c in BAR_COLUMNS)
        return sql.SQL(
            "WITH gone AS (DELETE FROM {daily} AS d USING unnest(%(keys_symbol)s::text[], %(keys_ts)s::timestamptz[],"
            " %(keys_superseded_at)s::timestamptz[]) AS c (symbol, ts, superseded_at)"
            " WHERE d.symbol = ANY(%(symbols)s::text[]) AND d.ts = ANY(%(days)s::timestamptz[])"
            " AND d.ts BETWEEN %(first)s AND %(last)s"
            " AND d.symbol = c.symbol AND d.ts = c.ts AND d.ingested_at <= c.superseded_at"
            " RETURNING {kept}, c.superseded_at)"
            " INSERT INTO {versions} SELECT *, 'corrected' FROM gone"
        ).format(daily=self.daily, kept=kept, versions=self.versions)

    def insert_absent(self, stage: sql.Identifier) -> sql.Composed:
        """Insert the staged bars whose key is not stored: new bars, and those ``delete_replaced`` removed."""
        columns = sql.SQL(", ").join(map(sql.Identifier, BAR_COLUMNS))
        return sql.SQL(
            "INSERT INTO {daily} ({columns}) SELECT {columns} FROM {stage} AS s"
            " WHERE NOT EXISTS (SELECT 1 FROM {daily} AS d WHERE d.symbol = s.symbol AND d.ts = s.ts)"
        ).format(daily=self.daily, columns=columns, stage=stage)

    def copy_rejected(self) -> sql.Composed:
        columns = sql.SQL(", ").join(map(sql.Identifier, REJECTED_COPY_COLUMNS))
        return sql.SQL("COPY {} ({}) FROM STDIN").format(self.rejected, columns)

    def read_raw_batches(self) -> sql.Composed:
        return sql.SQL("SELECT batch FROM {} WHERE partition_date BETWEEN %s AND %s ORDER BY partition_date").format(
            self.raw_batches
        )

    def read_raw(self) -> sql.Composed:
        """The rows ``raw_bars`` holds (landed before ``raw_batches``), in the order ``read_raw`` promises."""
        # to_char: a date's text form follows DateStyle otherwise. id keeps the landing order.
        return sql.SQL(
            "SELECT symbol, {ts}, open, high, low, close, adj_close, volume, source,"
            " to_char(partition_date, 'YYYY-MM-DD'), payload FROM {raw}"
            " WHERE partition_date BETWEEN %s AND %s ORDER BY partition_date, symbol, ts NULLS FIRST, id"
        ).format(ts=epoch_us("ts"), raw=self.raw)

    def read_rejected(self) -> sql.Composed:
        # to_json: the reasons as a JSON array rather than a text[] literal. id keeps the insertion order.
        return sql.SQL(
            "SELECT symbol, {ts}, to_char(partition_date, 'YYYY-MM-DD'), source, payload::text,"
            " to_json(reasons)::text, {rejected_at} FROM {rejected}"
            " WHERE partition_date BETWEEN %s AND %s ORDER BY partition_date, id"
        ).format(ts=epoch_us("ts"), rejected_at=epoch_us("rejected_at"), rejected=self.rejected)

    def read_bars(self, with_symbols: bool) -> sql.Composed:
        return sql.SQL(
            "SELECT symbol, {ts}, open, high, low, close, adj_close, volume, source, {ingested} FROM {daily}"
            " WHERE ts >= %s AND ts < %s{only} ORDER BY symbol, ts"
        ).format(
            ts=epoch_us("ts"),
            ingested=epoch_us("ingested_at"),
            daily=self.daily,
            only=_only_symbols(with_symbols),
        )

    def read_bars_as_of(self, with_symbols: bool) -> sql.Composed:
        """``read_bars`` as known at a moment (the last parameter): the current rows learned by then and the
        superseded versions valid then."""
        columns = sql.SQL("symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at")
        return sql.SQL(
            "SELECT symbol, {ts}, open, high, low, close, adj_close, volume, source, {ingested} FROM ("
            "SELECT {columns} FROM {daily} WHERE ingested_at <= %(as_of)s"
            " UNION ALL SELECT {columns} FROM {versions}"
            " WHERE ingested_at <= %(as_of)s AND superseded_at > %(as_of)s) AS known"
            " WHERE ts >= %(start)s AND ts < %(stop)s{only} ORDER BY symbol, ts"
        ).format(
            ts=epoch_us("ts"),
            ingested=epoch_us("ingested_at"),
            columns=columns,
            daily=self.daily,
            versions=self.versions,
            only=sql.SQL(" AND symbol = ANY(%(symbols)s)") if with_symbols else sql.SQL(""),
        )

    def read_weekly(self, with_symbols: bool) -> sql.Composed:
        return sql.SQL(
            "SELECT symbol, {week}, open, high, low, close, volume, bars FROM {weekly}"
            " WHERE week >= %s AND week < %s{only} ORDER BY symbol, week"
        ).format(week=epoch_us("week"), weekly=self.weekly, only=_only_symbols(with_symbols))

    def latest_dates(self) -> sql.Composed:
        """Each symbol's newest bar date (symbol, 'YYYY-MM-DD' in UTC), by symbol: a loose index scan.

        The walk asks the (symbol, ts) key for the next symbol after the last one, then for that symbol's
        max(ts): two short descents a symbol (~20 ms for 500 symbols over 1.3M bars). DISTINCT ON is not used:
        plain PostgreSQL has no skip scan and reads and sorts the whole key (~2 s there), and TimescaleDB's
        SkipScan, from 2.22 until fixed, returns the oldest bar instead of the newest for symbols in
        uncompressed chunks of a partly compressed hypertable (timescale/timescaledb#10447), which is the
        state the compression policy leaves. min() and max() stay plain key lookups on both, chunk by chunk.
        """
        newest = sql.SQL("(SELECT max(d.ts) FROM {daily} AS d WHERE d.symbol = s.symbol)").format(daily=self.daily)
        return sql.SQL(
            "{walk} SELECT s.symbol, to_char({newest} AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM s"
            " WHERE s.symbol IS NOT NULL ORDER BY s.symbol"
        ).format(walk=self._symbol_walk(), newest=newest)

    def holds_bars(self) -> sql.Composed:
        """Whether any bar's ts is in [%s, %s): the symbols walked as in ``latest_dates``, then one key descent
        each into the span. Counting the span instead (``range_counts``) reads every stored bar on plain
        PostgreSQL (no index leads with ts), so a backfill asking it once a chunk paid chunks x table size."""
        inside = sql.SQL("SELECT 1 FROM {daily} AS d WHERE d.symbol = s.symbol AND d.ts >= %s AND d.ts < %s").format(
            daily=self.daily
        )
        found = sql.SQL("{walk} SELECT EXISTS (SELECT 1 FROM s WHERE s.symbol IS NOT NULL AND EXISTS ({inside}))")
        return found.format(walk=self._symbol_walk(), inside=inside)

    def _symbol_walk(self) -> sql.Composed:
        """``WITH RECURSIVE s (symbol)``: every stored symbol, each found by one descent of the (symbol, ts) key
        (the next symbol after the last). min() of no rows is NULL: the walk stops there (and an empty table
        gives one NULL row, which the callers skip)."""
        return sql.SQL(
            "WITH RECURSIVE s (symbol) AS (SELECT min(symbol) FROM {daily}"
            " UNION ALL SELECT (SELECT min(d.symbol) FROM {daily} AS d WHERE d.symbol > s.symbol)"
            " FROM s WHERE s.symbol IS NOT NULL)"
        ).format(daily=self.daily)

    def quality_counts(self) -> sql.Composed:
        """bars, OHLC violations, duplicate keys, rejected rows. Parameters: the schema, the kept reasons.

        Duplicate keys are 0 by proof: the catalog shows a valid, unconditional unique index on exactly
        (symbol, ts) (the primary key; on a hypertable its root's, which every chunk carries), which no
        committed row can break. Only a table without one (made by hand, or its key dropped) is scanned and
        grouped: that scan was most of the check's time on a 2.6M-bar store (docs/benchmarks.md), and an
        uncorrelated subquery in a branch not taken is never run.
        """
        return sql.SQL(
            """SELECT b.bars, b.violations,
                CASE WHEN EXISTS (
                    SELECT 1 FROM pg_index i
                    JOIN pg_class c ON c.oid = i.indrelid AND c.relname = 'daily_bars'
                    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = %s
                    WHERE i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indnkeyatts = 2
                      AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'symbol')
                      AND i.indkey[1] = (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'ts'))
                THEN 0
                ELSE (SELECT count(*) FROM (SELECT 1 FROM {daily} GROUP BY symbol, ts HAVING count(*) > 1) k) END,
                (SELECT count(*) FROM {rejected}),
                (SELECT count(*) FROM {rejected} WHERE reasons && %s::text[])
            FROM (SELECT count(*) AS bars, count(*) FILTER (
                    WHERE low > least(open, close) OR high < greatest(open, close)
                       OR least(open, high, low, close) <= 0) AS violations
                  FROM {daily}) b"""
        ).format(daily=self.daily, rejected=self.rejected)

    def range_counts(self) -> sql.Composed:
        return sql.SQL(
            "SELECT (SELECT count(*) FROM {daily} WHERE ts >= %s AND ts < %s),"
            " (SELECT count(*) FROM {rejected} WHERE partition_date BETWEEN %s AND %s)"
        ).format(daily=self.daily, rejected=self.rejected)

    def keys_changed_since(self) -> sql.Composed:
        """The keys changed after a moment (``since``): current versions learned since, and retirements since
        whose key is not stored again (``BarStore.keys_changed_since``). Selects symbol, ts and changed_at as
        epoch microseconds, retired as 0/1."""
        return sql.SQL(
            "SELECT symbol, {ts}, {changed}, retired FROM ("
            "SELECT symbol, ts, ingested_at AS changed_at, 0 AS retired FROM {daily} WHERE ingested_at > %(since)s"
            " UNION ALL SELECT v.symbol, v.ts, max(v.superseded_at), 1 FROM {versions} AS v"
            " WHERE v.reason = 'retired' AND v.superseded_at > %(since)s"
            " AND NOT EXISTS (SELECT 1 FROM {daily} AS d WHERE d.symbol = v.symbol AND d.ts = v.ts)"
            " GROUP BY v.symbol, v.ts) AS changed ORDER BY symbol, ts"
        ).format(ts=epoch_us("ts"), changed=epoch_us("changed_at"), daily=self.daily, versions=self.versions)


def _only_symbols(with_symbols: bool) -> sql.Composable:
    return sql.SQL(" AND symbol = ANY(%s)") if with_symbols else sql.SQL("")
