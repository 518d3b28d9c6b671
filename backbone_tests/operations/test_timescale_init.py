"""The timescaledb service's init script creates Dagster's own role and database, safely quoted and only once.

Run for real with psql against the test PostgreSQL, as the image's entrypoint runs it on an empty volume
(it may run again when an operator re-applies it: it must then change nothing)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from backbone_tests.operations import stack

SCRIPT = stack.DOCKER / "timescaledb" / "10-dagster-storage.sh"


@pytest.fixture
def names(pg_admin_url: str) -> Iterator[dict[str, str]]:
    """Role and database names with a quote and a space in them, dropped afterwards."""
    token = secrets.token_hex(4)
    chosen = {"role": f"dagster_{token}'o", "db": f"dagster {token}", "password": f"pa'ss {token}"}
    yield chosen
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(chosen["db"])))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(chosen["role"])))


def _run_script(admin_url: str, names: dict[str, str]) -> subprocess.CompletedProcess[str]:
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    env = {
        **os.environ,
        "PGHOST": str(info.get("host", "127.0.0.1")),
        "PGPORT": str(info.get("port", 5432)),
        "PGPASSWORD": str(info.get("password", "")),
        "POSTGRES_USER": str(info.get("user", "postgres")),
        "POSTGRES_DB": str(info.get("dbname", "postgres")),
        "DAGSTER_PG_USER": names["role"],
        "DAGSTER_PG_PASSWORD": names["password"],
        "DAGSTER_PG_DB": names["db"],
    }
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.postgres
def test_init_script_creates_dagsters_role_and_database_once(pg_admin_url: str, names: dict[str, str]) -> None:
    if shutil.which("psql") is None:
        pytest.skip("psql (postgresql-client) is not installed: the init script needs it")

    first = _run_script(pg_admin_url, names)
    again = _run_script(pg_admin_url, names)

    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["CREATE", "ROLE", "CREATE", "DATABASE"]
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == ""  # nothing created twice
    assert names["password"] not in first.stdout + first.stderr
    with psycopg.connect(pg_admin_url) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (names["db"],)
        ).fetchone()
        can_login = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (names["role"],)).fetchone()
    assert owner == (names["role"],)
    assert can_login == (True,)
