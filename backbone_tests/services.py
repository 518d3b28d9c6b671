"""Real services for the tests: a throw-away database on PostgreSQL, and a TimescaleDB.

The TimescaleDB is the WASM server of ``../shared/timescale-wasm`` started for the session, or a real one given
by ``BACKBONE_TEST_TIMESCALE_URL``. A service that cannot be reached skips the tests that need it, with a reason
naming it; with ``BACKBONE_TEST_REQUIRE_SERVICES=1`` (CI) it fails them instead, so nothing passes silently.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from backbone_resources.settings import redact_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMESCALE_START = Path(__file__).resolve().parents[1].parent / "shared" / "timescale-wasm" / "start"
TIMESCALE_START_TIMEOUT_S = 120  # the first start installs its npm packages


def service_missing(reason: str) -> NoReturn:
    """Skip naming the missing service, or fail when CI requires every service."""
    if os.environ.get("BACKBONE_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (BACKBONE_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def _cause(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _endpoint(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}"


def _check_reachable(url: str, service: str) -> None:
    try:
        psycopg.connect(url, connect_timeout=5, prepare_threshold=None).close()
    except psycopg.Error as exc:
        service_missing(f"{service} not reachable at {_endpoint(url)} ({redact_url(url)}): {_cause(exc)}")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A PostgreSQL superuser URL (BACKBONE_TEST_PG_URL), checked reachable."""
    url = os.environ.get("BACKBONE_TEST_PG_URL", DEFAULT_PG_URL)
    _check_reachable(url, "PostgreSQL")
    return url


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new, empty database, dropped afterwards (WITH FORCE: a test's leaked connection must not keep it)."""
    name = f"backbone_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database for this test session; tests isolate themselves by schema inside it."""
    with scratch_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def pg_database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database for one test, for flows that use the fixed `market_data` schema."""
    with scratch_database(pg_admin_url) as url:
        yield url


class WasmTimescale:
    """The timescale-wasm server as a child process in its own process group."""

    def __init__(self, start: Path, timeout_s: float) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the server runs
        self.process = subprocess.Popen(
            [str(start), "0"],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # npm install and node die with it
        )
        self.port = self._await_listening(timeout_s)
        # Keep draining stdout so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres:x@127.0.0.1:{self.port}/postgres"

    def _await_listening(self, timeout_s: float) -> int:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=min(left, 1.0)):
                if self.process.poll() is not None:
                    break
                continue
            line = self.process.stdout.readline().decode(errors="replace")
            if line.startswith("LISTENING "):
                selector.close()
                return int(json.loads(line.split(" ", 1)[1].rsplit(" startup_ms", 1)[0])["port"])
            if not line and self.process.poll() is not None:
                break
        selector.close()
        exited = self.process.poll()
        self.stop()
        state = f"exited with {exited}" if exited is not None else f"not listening after {timeout_s:g}s"
        raise RuntimeError(f"timescale-wasm {state}: {self.stderr_tail()}")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def stderr_tail(self, chars: int = 600) -> str:
        self._stderr.seek(0)
        return " ".join(self._stderr.read().decode(errors="replace")[-chars:].split()) or "(no output)"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._stderr.close()


@pytest.fixture(scope="session")
def timescale_url() -> Iterator[str]:
    """A TimescaleDB URL: BACKBONE_TEST_TIMESCALE_URL, else a timescale-wasm server for the session.

    The WASM server has one backend for all connections: stores under test set ``prepared_statements=False``
    and ``pool_size=1`` (see ``timescale_store_options``)."""
    given = os.environ.get("BACKBONE_TEST_TIMESCALE_URL")
    if given:
        _check_reachable(given, "TimescaleDB (BACKBONE_TEST_TIMESCALE_URL)")
        yield given
        return
    if shutil.which("node") is None:
        service_missing("timescale-wasm needs node, which is not installed")
    if not TIMESCALE_START.exists():
        service_missing(f"timescale-wasm not found at {TIMESCALE_START}")
    try:
        server = WasmTimescale(TIMESCALE_START, TIMESCALE_START_TIMEOUT_S)
    except (OSError, RuntimeError) as exc:
        service_missing(f"timescale-wasm did not start: {_cause(exc)}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def timescale_store_options() -> dict[str, object]:
    """Store settings for the TimescaleDB under test: the WASM server shares one backend among connections."""
    if os.environ.get("BACKBONE_TEST_TIMESCALE_URL"):
        return {}
    return {"prepared_statements": False, "pool_size": 1}
