"""A PostgreSQL primary and its streaming replica on loopback ports: set up here, run by a supervisor.

The local stack never touches the machine's own server (5432, whose pg_hba.conf has no ``replication`` line):
it initdb's its own primary (``init_primary``), gives the application its role and database
(``ensure_app_database``) and clones a hot-standby replica from it with ``pg_basebackup`` (``init_replica``).
A process supervisor then runs each server in the foreground: ``server_argv(data_dir, port)`` as the OS user
``SERVER_USER`` (supervisord: ``user=postgres``), because ``postgres`` refuses to run as root. Every set-up
binary runs as that user too, and the data directories belong to it.

Each server's own settings (port, loopback only, its socket directory inside the data directory, replication)
are in ``backbone.conf`` in the data directory, included from ``postgresql.conf``: re-running a set-up
function rewrites that file, so both are idempotent. The replica keeps ``wal_keep_size`` of WAL on the primary
(no replication slot that could fill the primary's disk when a replica is dropped); a replica stopped for
longer than that needs a new ``init_replica`` on an empty directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

SERVER_USER = "postgres"  # the OS account the servers and set-up binaries run as (postgres refuses root)
SUPERUSER = "postgres"  # the database superuser initdb creates; trusted on 127.0.0.1 only
_OWN_CONF = "backbone.conf"
_INCLUDE = f"include_if_exists = '{_OWN_CONF}'\n"
_HBA = (
    "# backbone stack: the superuser is trusted on loopback (set-up, replication); application roles use\n"
    "# passwords (scram-sha-256), so a credential rotation (ALTER ROLE ... PASSWORD) takes effect.\n"
    "local all all trust\n"
    f"host all {SUPERUSER} 127.0.0.1/32 trust\n"
    f"host replication {SUPERUSER} 127.0.0.1/32 trust\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
)


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian's /usr/lib/postgresql/<major>/bin), else those on PATH.

    Raises FileNotFoundError naming what is missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, postgres, pg_basebackup) are not installed")
    return Path(on_path).parent


def as_server_user() -> dict[str, Any]:
    """``subprocess`` keyword arguments that run a child as ``SERVER_USER`` when we are root; none otherwise
    (then we are expected to be that user already)."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam(SERVER_USER)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "cwd": "/"}


def server_argv(data_dir: Path, port: int) -> list[str]:
    """The foreground command of one server (primary or replica), for a supervisor to run as ``SERVER_USER``;
    it stops cleanly on SIGINT (fast shutdown) or SIGTERM (smart shutdown)."""
    return [str(bin_dir() / "postgres"), "-D", str(data_dir), "-p", str(port)]


def init_primary(data_dir: Path, port: int, settings: Mapping[str, str] | None = None) -> None:
    """Create the primary's cluster in ``data_dir`` (initdb as ``SERVER_USER``, superuser ``postgres``, local
    and loopback superuser trusted, other roles by scram-sha-256) ready for streaming replicas, listening on
    127.0.0.1:``port`` only. An initialised directory keeps its data; its settings are rewritten.
    ``settings``: extra server settings (name -> value as postgresql.conf spells it, e.g. ``"fsync": "off"``)."""
    if not (data_dir / "PG_VERSION").exists():
        _own_directory(data_dir)
        _run(
            [str(bin_dir() / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "--auth-local=trust",
             "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions"]
        )  # fmt: skip
        with (data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"\n# backbone stack: this server's own settings\n{_INCLUDE}")
        _write_as_server_user(data_dir / "pg_hba.conf", _HBA)
    primary = {"wal_level": "replica", "max_wal_senders": "10", "wal_keep_size": "'256MB'"}
    _write_settings(data_dir, port, {**primary, **(settings or {})})


def init_replica(primary_port: int, data_dir: Path, port: int, settings: Mapping[str, str] | None = None) -> None:
    """Clone the primary on 127.0.0.1:``primary_port`` into ``data_dir`` as a hot standby streaming from it
    (``pg_basebackup -R -X stream``, a fast checkpoint) that listens on 127.0.0.1:``port``. The primary must be
    running. A directory that already holds the replica keeps it; its settings are rewritten.
    ``settings``: extra server settings, as ``init_primary`` takes them."""
    if not (data_dir / "standby.signal").exists():
        _own_directory(data_dir)
        _run(
            [str(bin_dir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", SUPERUSER,
             "-D", str(data_dir), "-R", "-X", "stream", "--checkpoint=fast"]
        )  # fmt: skip
    # hot_standby_feedback: a long read on the replica is not cancelled by the primary vacuuming its rows.
    _write_settings(data_dir, port, {"hot_standby": "on", "hot_standby_feedback": "on", **(settings or {})})


def ensure_app_database(admin_url: str, role: str, password: str, db: str) -> None:
    """The application's login role (``password`` checked by scram-sha-256) and a database it owns, created
    when absent. An existing role keeps its password: rotating it is ``ALTER ROLE``'s business."""
    # CREATE ROLE takes no server-side parameters: a client cursor binds the password client side, quoted.
    with psycopg.connect(admin_url, autocommit=True) as conn, psycopg.ClientCursor(conn) as cur:
        if cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(role)), (password,))
        if cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(role)))


def wait_ready(port: int, timeout_s: float = 30.0) -> None:
    """Wait until the server on 127.0.0.1:``port`` accepts the superuser (a replica: once it is consistent and
    serves reads); TimeoutError naming the port otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            psycopg.connect(superuser_url(port), connect_timeout=2).close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"PostgreSQL on 127.0.0.1:{port} not ready after {timeout_s:g} s: {exc}") from None
            time.sleep(0.05)


def superuser_url(port: int, db: str = "postgres") -> str:
    """The superuser's URL of the server on 127.0.0.1:``port`` (trusted on loopback: no password)."""
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{db}"


def _own_directory(data_dir: Path) -> None:
    """``data_dir`` created (mode 0700, as postgres demands) and owned by ``SERVER_USER``."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    user = as_server_user()
    if user:
        os.chown(data_dir, user["user"], user["group"])


def _write_settings(data_dir: Path, port: int, settings: Mapping[str, str]) -> None:
    """``backbone.conf``: loopback on ``port``, the socket in the data directory (no clash with the machine's
    server in /var/run/postgresql), then ``settings``."""
    own = {"listen_addresses": "'127.0.0.1'", "port": str(port), "unix_socket_directories": f"'{data_dir}'"}
    text = "".join(f"{name} = {value}\n" for name, value in {**own, **settings}.items())
    _write_as_server_user(data_dir / _OWN_CONF, text)


def _write_as_server_user(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    user = as_server_user()
    if user:
        os.chown(path, user["user"], user["group"])


def _run(argv: list[str]) -> None:
    """Run a set-up binary as ``SERVER_USER``; its own error output in the exception when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **as_server_user())
    if done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()}")
