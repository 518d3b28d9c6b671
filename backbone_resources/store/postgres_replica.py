"""Reads from a streaming replica of the PostgreSQL store (BACKBONE_TIMESCALE_READ_URL) that never see less than
the primary had committed when the read began.

The policy, in ``ReplicaReads.connection`` (the store's one place that picks a read's server): first the
primary's WAL write position (``pg_current_wal_lsn()``); then a replica connection, used once the replica has
replayed up to that position (``pg_last_wal_replay_lsn()``, polled with a short backoff). Such a read sees every
transaction committed before it began, whichever process committed it, so a check that runs right after its
asset's write (in another step's process) sees that write: replication lag can slow a read, never falsify a
check. The position is read after the writer's commit returned, so it is at or after the end of the commit
record, which is what a replay position must reach (the store's commits are synchronous: PostgreSQL's default).

When the replica does not catch up within ``max_wait_s``, cannot be reached, or is not in recovery (promoted, or
not a replica at all), the read goes to the primary with a warning, and the replica sits out ``BENCH_S`` seconds
so that a lagging or dead replica does not cost every read the wait. Each replica read costs one extra round
trip to the primary (the position) and one to the replica; writes, migrations and the position stay on the
primary. PostgreSQL 15 has no ``WAIT FOR LSN`` (19 has), hence the polling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from backbone_domain.redaction import redact, redact_url, secrets_in
from backbone_domain.replica_lag import ReplicaLag

log = logging.getLogger(__name__)
BENCH_S = 30.0  # how long a replica that failed a read sits out before it is tried again
_POSITION = "SELECT pg_current_wal_lsn()::text"
_REPLAYED = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
_LAG = (
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
    " extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)


def lsn(text: str) -> int:
    """A ``pg_lsn`` as text (``16/B374D848``) as the byte position it names."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def primary_position(primary: ConnectionPool) -> int:
    """The primary's WAL write position now: every transaction committed so far ends at or before it."""
    with primary.connection() as conn:
        row = conn.execute(_POSITION).fetchone()
    assert row is not None
    return lsn(row[0])


class ReplicaReads:
    """A pool on the replica and the policy of the module docstring."""

    def __init__(
        self, url: str, connect_kwargs: Callable[[], dict[str, Any]], pool_size: int, max_wait_s: float
    ) -> None:
        self.url, self.max_wait_s = url, max_wait_s
        self._kwargs, self._size = connect_kwargs, pool_size
        self._pool: ConnectionPool | None = None
        self._benched_until = 0.0
        self._guard = threading.Lock()

    @property
    def endpoint(self) -> str:
        return redact_url(self.url)

    def close(self) -> None:
        with self._guard:
            if self._pool is not None:
                self._pool.close()
            self._pool = None

    def _replica_pool(self) -> ConnectionPool:
        with self._guard:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url,
                    kwargs=self._kwargs(),
                    min_size=1,
                    max_size=self._size,
                    open=False,
                    check=ConnectionPool.check_connection,
                    name="backbone-store-replica",
                )
                self._pool.open(wait=False)  # a replica that is down costs a read the wait, then the primary
            return self._pool

    @contextmanager
    def connection(self, primary: ConnectionPool) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one read: the replica's once it has caught up with the primary, else the primary's."""
        if time.monotonic() < self._benched_until:
            with primary.connection() as conn:
                yield conn
            return
        target = primary_position(primary)
        pool = self._replica_pool()
        replica, problem = self._caught_up(pool, target)
        if replica is None:
            self._benched_until = time.monotonic() + BENCH_S
            log.warning("read replica %s %s: reading from the primary for %g s", self.endpoint, problem, BENCH_S)
            with primary.connection() as conn:
                yield conn
            return
        try:
            yield replica
        finally:
            pool.putconn(replica)

    def _caught_up(self, pool: ConnectionPool, target: int) -> tuple[psycopg.Connection[Any] | None, str]:
        """A replica connection that has replayed up to ``target``, or None and why not."""
        deadline = time.monotonic() + self.max_wait_s
        try:
            conn = pool.getconn(timeout=max(self.max_wait_s, 0.1))
        except (PoolTimeout, psycopg.OperationalError) as exc:
            return None, f"unreachable ({self._cause(exc)})"
        pause = 0.002
        try:
            while True:
                in_recovery, replayed = conn.execute(_REPLAYED).fetchone() or (False, None)
                if not in_recovery:
                    problem = "is not in recovery (not a replica, or promoted)"
                    break
                if replayed is not None and lsn(replayed) >= target:
                    return conn, ""
                left = deadline - time.monotonic()
                if left <= 0:
                    behind = "?" if replayed is None else str(target - lsn(replayed))
                    problem = f"is {behind} byte(s) of WAL behind after {self.max_wait_s:g} s"
                    break
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.05)
        except psycopg.OperationalError as exc:
            problem = f"unreachable ({self._cause(exc)})"
        pool.putconn(conn)
        return None, problem

    def lag(self, primary: ConnectionPool) -> ReplicaLag:
        """How far behind the replica is now; an unreachable replica is reported, not raised."""
        target = primary_position(primary)
        try:
            with self._replica_pool().connection(timeout=max(self.max_wait_s, 1.0)) as conn:
                in_recovery, replayed, age = conn.execute(_LAG).fetchone() or (False, None, None)
        except (PoolTimeout, psycopg.OperationalError) as exc:
            return ReplicaLag(self.endpoint, "unavailable", None, None, f"unreachable ({self._cause(exc)})")
        if not in_recovery:
            return ReplicaLag(self.endpoint, "unavailable", None, None, "not in recovery (not a replica, or promoted)")
        if replayed is None:
            return ReplicaLag(self.endpoint, "up", None, None)
        behind = max(0, target - lsn(replayed))
        seconds = 0.0 if behind == 0 else (None if age is None else max(0.0, float(age)))
        return ReplicaLag(self.endpoint, "up", behind, seconds)

    def _cause(self, exc: BaseException) -> str:
        return redact(" ".join(str(exc).split()) or type(exc).__name__, secrets_in(self.url))
