"""A PostgreSQL outage is StoreUnavailable from every store method (issue 13, D8): a pool that cannot connect
(PoolTimeout) and a connection dropped mid-transaction, on a real server. The message names the setting and
never the password; a dropped write leaves nothing behind and the same write then succeeds."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from psycopg_pool import ConnectionPool

from backbone_domain.bars import empty_bars, empty_rejected
from backbone_resources.store import postgres_store
from backbone_resources.store.base import StoreUnavailable
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import MON, bars, raw_rows, rejected_rows

pytestmark = pytest.mark.postgres
SECRET = "s3cret-pw"  # the server trusts 127.0.0.1, so any password connects


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresBarStore]:
    parts = urlsplit(pg_url)
    url = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:{SECRET}@{parts.hostname}:{parts.port}"))
    built = PostgresBarStore(url=url, schema_name=f"t_{uuid.uuid4().hex[:12]}", connect_timeout_s=0.5)
    built.ping()  # migrated, pool open
    yield built
    built.close()


CALLS: dict[str, Callable[[PostgresBarStore], Any]] = {
    "ping": lambda s: s.ping(),
    "describe": lambda s: s.describe(),
    "replace_raw": lambda s: s.replace_raw(MON, MON, raw_rows(MON)),
    "land": lambda s: s.land(MON, MON, raw_rows(MON)),
    "read_raw": lambda s: s.read_raw(MON, MON),
    "write_validated": lambda s: s.write_validated(MON, MON, bars(["AAA"], [MON]), empty_rejected()),
    "read_rejected": lambda s: s.read_rejected(MON, MON),
    "read_bars_table": lambda s: s.read_bars_table(MON, MON),
    "read_weekly": lambda s: s.read_weekly(MON, MON),
    "latest_bar_dates": lambda s: s.latest_bar_dates(),
    "quality_counts": lambda s: s.quality_counts(),
    "range_counts": lambda s: s.range_counts(MON, MON),
    "holds_bars": lambda s: s.holds_bars(MON, MON),
}


def test_every_method_under_a_pool_that_cannot_connect_is_store_unavailable(store: PostgresBarStore) -> None:
    assert store._pool is not None
    store._pool.close()
    # The server went away: a pool whose connections cannot be made (nothing listens on port 1).
    store._pool = ConnectionPool(f"postgresql://postgres:{SECRET}@127.0.0.1:1/x", min_size=1, open=False, timeout=0.3)
    store._pool.open(wait=False)

    for name, call in CALLS.items():
        with pytest.raises(StoreUnavailable) as raised:
            call(store)
        message = str(raised.value)
        assert "BACKBONE_TIMESCALE_URL" in message, name
        assert "couldn't get a connection after 0.30 sec" in message, name
        assert SECRET not in message, name
        assert raised.value.__cause__ is None, name  # no chained traceback to print the URL


def test_a_connection_dropped_mid_write_is_store_unavailable_and_the_write_then_succeeds(
    store: PostgresBarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = postgres_store.replace_rejected

    def dropped(cur: Any, *args: Any) -> None:
        real(cur, *args)  # written, not committed
        cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")  # as a restart would

    monkeypatch.setattr(postgres_store, "replace_rejected", dropped)
    with pytest.raises(StoreUnavailable, match=r"BACKBONE_TIMESCALE_URL.*terminating connection") as raised:
        store.write_validated(MON, MON, empty_bars(), rejected_rows([MON], 2))
    assert SECRET not in str(raised.value)
    assert store.range_counts(MON, MON).rejected == 0  # nothing of the dropped transaction

    monkeypatch.setattr(postgres_store, "replace_rejected", real)
    assert store.write_validated(MON, MON, bars(["AAA"], [MON]), rejected_rows([MON], 2)).rejected == 2
    assert store.range_counts(MON, MON).rejected == 2
