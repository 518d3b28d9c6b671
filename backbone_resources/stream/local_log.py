"""The bootstrap stream: a durable, partitioned log in a SQLite file with Kafka's offset semantics.

Same topic, partitions (by key), offsets and consumer-group commits as Kafka, so the asset, lag check, replay
and the bridge run unchanged and pass the same contract tests. One process appends at a time (SQLite's write
lock); a group's single consumer reads every partition (there is no rebalancing to share them).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from backbone_resources.probe import Probe, probing
from backbone_resources.stream.base import (
    MessageBatch,
    PartitionLag,
    PublishReport,
    Record,
    StreamConsumer,
    StreamResource,
    TopicReport,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (topic TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
  key BLOB NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL, published_at REAL,
  PRIMARY KEY (topic, partition, "offset"));
CREATE TABLE IF NOT EXISTS group_offsets (
  grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
  PRIMARY KEY (grp, topic, partition));
"""
_BATCH = 5000
# Logs written before records kept their publish time gain the column; their old records' time stays unknown (NULL).
_ADD_PUBLISHED_AT = "ALTER TABLE records ADD COLUMN published_at REAL"


class LocalLogStream(StreamResource):
    path: str

    kinds: ClassVar[tuple[str, ...]] = ("sqlite",)  # the local log is a SQLite file (stream.sqlite)

    def describe(self) -> dict[str, Any]:
        return {"backend": "local_log", "path": self.path, "topic": self.topic}

    def probe(self) -> Probe:
        def version() -> str:
            with self._db() as conn:
                return f"sqlite {conn.execute('SELECT sqlite_version()').fetchone()[0]}"

        return probing("local_log", self.path, version)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            if "published_at" not in {row[1] for row in conn.execute("PRAGMA table_info(records)")}:
                conn.execute(_ADD_PUBLISHED_AT)
            yield conn

    def _partitions(self, conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT partitions FROM topics WHERE topic = ?", (self.topic,)).fetchone()
        return row[0] if row else None

    def ensure_topic(self) -> TopicReport:
        with self._db() as conn:
            have = self._partitions(conn)
            if have is None:
                conn.execute("INSERT OR IGNORE INTO topics VALUES (?, ?)", (self.topic, self.partitions))
                return TopicReport(self.topic, True, self.partitions)
        mismatches = () if have == self.partitions else (f"partitions: topic has {have}, configured {self.partitions}",)
        return TopicReport(self.topic, False, have, mismatches)

    def publish(self, batches: Iterable[MessageBatch]) -> PublishReport:
        self.ensure_topic()
        report = PublishReport(end_before=self.end_offsets())
        with self._db() as conn:
            partitions = self._partitions(conn) or self.partitions
            for batch in batches:
                for at in range(0, len(batch), _BATCH):
                    self._append(conn, partitions, batch, slice(at, at + _BATCH), report)
        return report

    def _append(
        self, conn: sqlite3.Connection, partitions: int, batch: MessageBatch, part: slice, report: PublishReport
    ) -> None:
        """One transaction per slice: a crash loses at most the unconfirmed slice, as a producer would."""
        conn.execute("BEGIN IMMEDIATE")
        ends = dict(
            conn.execute(
                'SELECT partition, MAX("offset") + 1 FROM records WHERE topic = ? GROUP BY partition', (self.topic,)
            ).fetchall()
        )
        headers = json.dumps({k: v.decode() for k, v in batch.headers.items()})
        published_at = time.time()  # the event time lag is measured from, as Kafka's CreateTime (seconds, UTC)
        rows = []
        for key, value in zip(batch.keys[part], batch.values[part], strict=True):
            p = zlib.crc32(key) % partitions
            offset = ends.get(p, 0)
            ends[p] = offset + 1
            rows.append((self.topic, p, offset, key, value, headers, published_at))
            report.add(p, offset, len(key) + len(value))
        conn.executemany(
            'INSERT INTO records (topic, partition, "offset", key, value, headers, published_at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")

    def end_offsets(self, read_back: bool = False) -> dict[int, int]:
        """Exact: the offsets come from the records themselves, so reading back changes nothing."""
        with self._db() as conn:
            count = self._partitions(conn)
            if count is None:
                return {}
            ends = dict(
                conn.execute(
                    'SELECT partition, MAX("offset") + 1 FROM records WHERE topic = ? GROUP BY partition', (self.topic,)
                ).fetchall()
            )
        return {p: ends.get(p, 0) for p in range(count)}

    @contextmanager
    def consumer(self, group: str) -> Iterator[StreamConsumer]:
        with self._db() as conn:
            yield _LocalConsumer(conn, self.topic, group)

    def lag(self, group: str) -> list[PartitionLag]:
        ends = self.end_offsets()
        if not ends:
            return []
        with self._db() as conn:
            committed = dict(
                conn.execute(
                    'SELECT partition, "offset" FROM group_offsets WHERE grp = ? AND topic = ?', (group, self.topic)
                ).fetchall()
            )
            lags = []
            for p, end in ends.items():
                at = committed.get(p, 0)
                oldest = None
                if at < end:  # the oldest unconsumed record is the one at the committed offset (or the first)
                    row = conn.execute(
                        'SELECT published_at FROM records WHERE topic = ? AND partition = ? AND "offset" >= ? '
                        'ORDER BY "offset" LIMIT 1',
                        (self.topic, p, at),
                    ).fetchone()
                    if row is not None and row[0] is not None:
                        oldest = dt.datetime.fromtimestamp(row[0], dt.UTC)
                lags.append(PartitionLag(p, end, committed.get(p), oldest))
        return lags


class _LocalConsumer(StreamConsumer):
    def __init__(self, conn: sqlite3.Connection, topic: str, group: str) -> None:
        self._conn, self._topic, self._group = conn, topic, group
        self._position = dict(
            conn.execute(
                'SELECT partition, "offset" FROM group_offsets WHERE grp = ? AND topic = ?', (group, topic)
            ).fetchall()
        )

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        records: list[Record] = []
        parts = [
            r[0] for r in self._conn.execute("SELECT DISTINCT partition FROM records WHERE topic = ?", (self._topic,))
        ]
        for p in sorted(parts):
            rows = self._conn.execute(
                'SELECT "offset", key, value, headers FROM records WHERE topic = ? AND partition = ? AND "offset" >= ? '
                'ORDER BY "offset" LIMIT ?',
                (self._topic, p, self._position.get(p, 0), max_records - len(records)),
            ).fetchall()
            for offset, key, value, headers in rows:
                records.append(Record(p, offset, key, value, {k: v.encode() for k, v in json.loads(headers).items()}))
            if rows:
                self._position[p] = rows[-1][0] + 1
            if len(records) >= max_records:
                break
        return records

    def commit(self, records: Iterable[Record]) -> None:
        nxt: dict[int, int] = {}
        for r in records:
            nxt[r.partition] = max(nxt.get(r.partition, 0), r.offset + 1)
        self._conn.executemany(
            "INSERT INTO group_offsets VALUES (?, ?, ?, ?) "
            'ON CONFLICT (grp, topic, partition) DO UPDATE SET "offset" = excluded."offset"',
            [(self._group, self._topic, p, o) for p, o in nxt.items()],
        )

    def close(self) -> None:
        pass
