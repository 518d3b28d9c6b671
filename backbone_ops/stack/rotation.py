"""``backbone stack rotate postgres|redis``: a new password for the platform's user on a running stack, applied on
the server, written to the stack's secret file, then a rolling restart of the long-lived readers. No code and no
config changes; runs need no restart (each run worker loads settings afresh and reads the files).

- **postgres**: ``ALTER ROLE backbone PASSWORD`` with a SCRAM verifier computed here (libpq's
  ``PQencryptPasswordConn``), so the password itself never reaches the server, its log or ``pg_stat_activity``;
  then ``pg_backbone`` and the two URL files. PostgreSQL holds one password per role: from the ``ALTER`` on, new
  connections need the new one (open sessions stay), and a connection opened in the milliseconds before the
  files are replaced fails like any outage and is retried.
- **redis**: ``ACL SETUSER backbone`` *adds* the new password (as its SHA-256, never in clear), the file and
  ``redis.conf`` (read if Redis restarts) are rewritten, the readers restarted, and only then the old password
  removed: at no moment is there no working password.

The readers are the processes that hold connections or settings loaded at their start: the bridge (its pools)
and the watchers' code server (its sensors); each is restarted and healthy before the next (``lifecycle.restart``),
once for all the services rotated together.
The pipeline's code server keeps running: its runs read the files. Nothing here prints a secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable, Sequence
from typing import Literal

import psycopg
import redis
from psycopg import sql

from backbone_ops.stack import lifecycle
from backbone_ops.stack.services import StackPaths, write_redis_conf, write_secret, write_url_secrets
from backbone_ops.stack.settings import HOST, StackSettings

Service = Literal["postgres", "redis"]
SERVICES: tuple[Service, ...] = ("postgres", "redis")
READERS = ("bridge", "dagster-watchers")  # long-lived processes that connect with the platform's credentials
USER = "backbone"
Say = Callable[[str], None]


def rotate(cfg: StackSettings, services: Sequence[Service], say: Say = print) -> list[str]:
    """Rotate each of ``services``' password for the user ``backbone``, with one rolling restart of the readers for
    all of them; returns the readers restarted."""
    paths = StackPaths(cfg.root)
    running = {p.name for p in lifecycle.status(cfg) if p.state == "RUNNING"}
    stopped = [name for name in services if name not in running]
    if stopped:
        raise lifecycle.StackError(f"{', '.join(stopped)} not running in the stack at {cfg.root}")
    readers = [name for name in READERS if name in running]
    old_redis = paths.secret("redis_backbone")
    with contextlib.closing(_redis_admin(cfg, paths)) as admin:
        if "redis" in services:
            new = secrets.token_urlsafe(24)
            admin.execute_command("ACL", "SETUSER", USER, f"#{_sha256(new)}")
            write_secret(paths.secrets / "redis_backbone", new)
            write_redis_conf(cfg, paths)
            say(f"  redis: user {USER} has a second password; {paths.secrets / 'redis_backbone'} rewritten")
        if "postgres" in services:
            new = secrets.token_urlsafe(24)
            _alter_role(cfg, new)
            write_secret(paths.secrets / "pg_backbone", new)
            write_url_secrets(cfg, paths)
            say(f"  postgres: role {USER} has a new password; {paths.secrets / 'pg_backbone'} and URL files rewritten")
        lifecycle.restart(cfg, readers, say=say)
        if "redis" in services:
            admin.execute_command("ACL", "SETUSER", USER, f"!{_sha256(old_redis)}")
            say(f"  redis: the old password of {USER} removed")
    return readers


def _alter_role(cfg: StackSettings, password: str) -> None:
    with psycopg.connect(f"postgresql://postgres@{HOST}:{cfg.postgres_port}/postgres", autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), USER.encode(), b"scram-sha-256")
        # ALTER ROLE takes no bind parameters: the identifier and the (hashed) literal are quoted by psycopg.sql.
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(USER), sql.Literal(verifier.decode()))
        conn.execute(statement)


def _redis_admin(cfg: StackSettings, paths: StackPaths) -> redis.Redis:
    return redis.Redis(host=HOST, port=cfg.redis_port, password=paths.secret("redis_admin"), socket_timeout=5)


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()
