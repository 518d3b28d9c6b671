"""The local log's own storage: a log written before records kept their publish time still reads."""

from __future__ import annotations

import sqlite3

from backbone_domain.message_batch import MessageBatch
from backbone_resources.stream.local_log import LocalLogStream
from backbone_resources.stream.settings import StreamPolicy

_OLD_SCHEMA = """
CREATE TABLE topics (topic TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE records (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
  key BLOB NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL,
  PRIMARY KEY (topic, partition, "offset"));
INSERT INTO topics VALUES ('t', 1);
INSERT INTO records VALUES ('t', 0, 0, X'41', X'7B7D', '{}');
"""


def test_records_from_before_publish_times_lag_in_messages_with_an_unknown_wait(tmp_path):
    path = tmp_path / "stream.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(_OLD_SCHEMA)
    stream = LocalLogStream(path=str(path), policy=StreamPolicy(topic="t", partitions=1))

    [old] = stream.lag("g")
    assert (old.lag, old.oldest_unconsumed_at) == (1, None)  # unknown, not "published at 1970"

    stream.publish([MessageBatch([b"A"], [b"{}"], {})])  # the column was added; new records carry their time
    with stream.consumer("g") as consumer:
        consumer.commit(consumer.poll(1, 1.0))  # the old record consumed: the oldest left is the new one
    [new] = stream.lag("g")
    assert new.lag == 1
    assert new.oldest_unconsumed_at is not None
