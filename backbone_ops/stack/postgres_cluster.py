"""TEMPORARY stand-in (replaced by the read-replica branch): a PostgreSQL primary and replica for the stack."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

BIN = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres" if os.geteuid() == 0 else None


def _run(argv: list[str]) -> None:
    prefix = ["runuser", "-u", SERVER_USER, "--"] if SERVER_USER else []
    subprocess.run([*prefix, *argv], check=True, capture_output=True)


def _own(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if SERVER_USER:
        shutil.chown(path, SERVER_USER, SERVER_USER)


def init_primary(data_dir: Path, port: int) -> None:
    if (data_dir / "PG_VERSION").exists():
        return
    _own(data_dir)
    _run(
        [str(BIN / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]
    )
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses='127.0.0.1'\nport={port}\nunix_socket_directories='{data_dir}'\n"
            "wal_level=replica\nmax_wal_senders=5\nhot_standby=on\n"
        )
    (data_dir / "pg_hba.conf").write_text(
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost replication postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )


def init_replica(primary_port: int, data_dir: Path, port: int) -> None:
    if (data_dir / "PG_VERSION").exists():
        return
    _own(data_dir)
    _run(
        [
            str(BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary_port),
            "-U",
            "postgres",
            "-D",
            str(data_dir),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ]
    )
    with (data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port={port}\nunix_socket_directories='{data_dir}'\n")


def server_argv(data_dir: Path, port: int) -> list[str]:
    return [str(BIN / "postgres"), "-D", str(data_dir), "-p", str(port)]


def ensure_app_database(admin_url: str, role: str, password: str, db: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(role)))
