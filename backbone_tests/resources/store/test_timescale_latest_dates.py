"""``latest_bar_dates`` on a partly compressed hypertable: the state the compression policy leaves (older chunks
in the columnstore, the newest in rows). TimescaleDB's SkipScan answered DISTINCT ON with the oldest bar of
each symbol in the uncompressed chunk there (timescale/timescaledb#10447), which the store's query must not do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from backbone_domain.bars import empty_rejected
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import bars

pytestmark = pytest.mark.timescale

# Three years at a year a chunk: at least three chunks, each holding several bars of every symbol.
DAYS = [d for d in (dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range(3 * 365)) if d.weekday() < 5]


@pytest.fixture
def ts_store(timescale_url: str, timescale_store_options: dict[str, Any]) -> Iterator[PostgresBarStore]:
    store = PostgresBarStore(url=timescale_url, schema_name=f"t_{uuid.uuid4().hex[:12]}", **timescale_store_options)
    yield store
    store.close()


def test_latest_bar_dates_with_older_chunks_compressed(ts_store: PostgresBarStore, timescale_url: str) -> None:
    ends = {"AAA": DAYS[-1], "BBB": DAYS[-2], "CCC": DAYS[-7]}
    for symbol, last in ends.items():
        days = [d for d in DAYS if d <= last]
        ts_store.write_validated(days[0], last, bars([symbol], days), empty_rejected())
    ts_store.write_validated(DAYS[3], DAYS[3], bars(["OLD"], [DAYS[3]]), empty_rejected())  # one compressed bar
    with psycopg.connect(timescale_url, autocommit=True, prepare_threshold=None) as conn:
        chunks = [
            row[0]
            for row in conn.execute(
                "SELECT c FROM show_chunks(%s::regclass) c ORDER BY c", (f"{ts_store.schema_name}.daily_bars",)
            )
        ]
        assert len(chunks) >= 3
        for chunk in chunks[:-1]:
            conn.execute("SELECT compress_chunk(%s::regclass)", (chunk,))

    assert ts_store.latest_bar_dates() == {**ends, "OLD": DAYS[3]}
