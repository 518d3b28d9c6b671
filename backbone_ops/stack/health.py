"""Health probes of the stack's processes: each answers None when healthy, else what is wrong in a few words.

A probe asks the service the way its clients do (a query, a PING, a metadata request, a gRPC ping, an HTTP GET),
so "healthy" means usable, not merely started. Probes are quick (a few seconds at most) and never raise.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

Probe = Callable[[], str | None]
_TIMEOUT_S = 3.0


def _guard(check: Callable[[], str | None]) -> str | None:
    try:
        return check()
    except Exception as exc:  # a probe reports, it never raises  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]


def process_only() -> str | None:
    """Up for its start time under supervisord is all that is asked (the supervisor checks that)."""
    return None


def postgres(url: str, *, in_recovery: bool) -> Probe:
    def check() -> str | None:
        import psycopg

        with psycopg.connect(url, connect_timeout=int(_TIMEOUT_S)) as conn:
            recovering = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]  # type: ignore[index]
        if recovering != in_recovery:
            return "a replica, expected a primary" if recovering else "a primary, expected a replica"
        return None

    return lambda: _guard(check)


def redis(host: str, port: int, password: Callable[[], str]) -> Probe:
    def check() -> str | None:
        import redis as redis_client

        client = redis_client.Redis(host=host, port=port, password=password(), socket_timeout=_TIMEOUT_S)
        try:
            return None if client.ping() else "no PONG"
        finally:
            client.close()

    return lambda: _guard(check)


def kafka(bootstrap: str) -> Probe:
    def check() -> str | None:
        import logging

        from confluent_kafka.admin import AdminClient

        quiet = logging.getLogger("backbone.stack.probe")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        admin = AdminClient({"bootstrap.servers": bootstrap, "logger": quiet})
        metadata = admin.list_topics(timeout=_TIMEOUT_S)
        return None if metadata.brokers else "no broker in the metadata"

    return lambda: _guard(check)


def _json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
        return json.load(response)


def spark_master(host: str, ui_port: int) -> Probe:
    def check() -> str | None:
        status = _json(f"http://{host}:{ui_port}/json/")["status"]
        return None if status == "ALIVE" else f"master {status}"

    return lambda: _guard(check)


def spark_worker(host: str, ui_port: int, master_ui_port: int) -> Probe:
    """Its UI answers and the master lists it ALIVE (a worker that never registered runs no executor)."""

    def check() -> str | None:
        worker_id = _json(f"http://{host}:{ui_port}/json/")["id"]
        alive = {w["id"] for w in _json(f"http://{host}:{master_ui_port}/json/")["workers"] if w["state"] == "ALIVE"}
        return None if worker_id in alive else "not registered with the master"

    return lambda: _guard(check)


def grpc_server(host: str, port: int) -> Probe:
    """The code server answers a ping (it serves only once the code location has loaded)."""

    def check() -> str | None:
        from dagster._grpc.client import DagsterGrpcClient

        DagsterGrpcClient(port=port, host=host).ping("backbone")  # raises when it does not answer
        return None

    return lambda: _guard(check)


def webserver(host: str, port: int) -> Probe:
    def check() -> str | None:
        _json(f"http://{host}:{port}/server_info")
        return None

    return lambda: _guard(check)


DAEMON_QUERY = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"


def daemon(host: str, port: int) -> Probe:
    """Every required daemon (scheduler, sensors, run queue...) has sent a fresh heartbeat, as the UI shows it."""

    def check() -> str | None:
        request = urllib.request.Request(
            f"http://{host}:{port}/graphql",
            data=json.dumps({"query": DAEMON_QUERY}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            statuses = json.load(response)["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
        sick = sorted(s["daemonType"] for s in statuses if s["required"] and not s["healthy"])
        return f"no heartbeat from {', '.join(sick)}" if sick else None

    return lambda: _guard(check)
