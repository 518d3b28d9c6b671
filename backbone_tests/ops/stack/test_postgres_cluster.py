"""The stack's PostgreSQL cluster functions, on the primary and replica they set up for the session
(``fixtures/postgres_replica``): a hot standby streaming from the primary, loopback only, the superuser trusted
there and application roles held to their password, and every set-up step idempotent."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from backbone_ops.stack import postgres_cluster as cluster
from backbone_tests.fixtures.postgres_replica import APP_DB, APP_PASSWORD, APP_ROLE, ReplicatedPostgres


def test_the_replica_is_a_hot_standby_streaming_from_the_primary(replicated_postgres: ReplicatedPostgres) -> None:
    pg = replicated_postgres
    with pg.admin(pg.primary_port) as primary:
        assert primary.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        primary.execute("CREATE TABLE IF NOT EXISTS public.cluster_probe (n int)")
        primary.execute("TRUNCATE public.cluster_probe")
        primary.execute("INSERT INTO public.cluster_probe VALUES (42)")
        [(senders,)] = primary.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
    assert senders == 1
    pg.caught_up()  # replayed up to the primary's position after the insert
    with pg.admin(pg.replica_port) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert replica.execute("SELECT n FROM public.cluster_probe").fetchall() == [(42,)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            replica.execute("INSERT INTO public.cluster_probe VALUES (1)")


@pytest.mark.parametrize("side", ["primary", "replica"])
def test_each_server_listens_on_loopback_only_with_its_socket_in_its_data_directory(
    replicated_postgres: ReplicatedPostgres, side: str
) -> None:
    pg = replicated_postgres
    port = pg.primary_port if side == "primary" else pg.replica_port
    with pg.admin(port) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('listen_addresses', 'port', 'unix_socket_directories', 'wal_level', 'hot_standby')"
            ).fetchall()
        )
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(pg.root / side),
        "wal_level": "replica",
        "hot_standby": "on",
    }


def test_application_roles_need_their_password_and_the_superuser_is_trusted_on_loopback(
    replicated_postgres: ReplicatedPostgres,
) -> None:
    pg = replicated_postgres
    with psycopg.connect(pg.primary_url) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (APP_ROLE, APP_DB)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg.primary_url.replace(APP_PASSWORD, "wrong")).close()
    psycopg.connect(cluster.superuser_url(pg.primary_port)).close()  # no password


def test_setting_up_again_keeps_the_data_the_role_and_its_password(replicated_postgres: ReplicatedPostgres) -> None:
    pg = replicated_postgres
    conf = {side: (pg.root / side / "backbone.conf").read_text() for side in ("primary", "replica")}
    cluster.init_primary(pg.root / "primary", pg.primary_port, {"fsync": "off", "full_page_writes": "off",
                                                                "max_connections": "60"})  # fmt: skip
    cluster.init_replica(pg.primary_port, pg.root / "replica", pg.replica_port, {"fsync": "off",
                         "full_page_writes": "off", "max_connections": "60"})  # fmt: skip
    cluster.ensure_app_database(cluster.superuser_url(pg.primary_port), APP_ROLE, "another-password", APP_DB)

    assert {side: (pg.root / side / "backbone.conf").read_text() for side in conf} == conf
    psycopg.connect(pg.primary_url).close()  # still the first password
    assert (pg.root / "replica" / "standby.signal").exists()


def test_the_server_command_runs_the_postgres_binary_in_the_foreground_as_the_postgres_account(tmp_path: Path) -> None:
    argv = cluster.server_argv(tmp_path / "data", 15432)
    assert Path(argv[0]).name == "postgres"
    assert Path(argv[0]).parent == cluster.bin_dir()
    assert argv[1:] == ["-D", str(tmp_path / "data"), "-p", "15432"]
    user = cluster.as_server_user()
    if os.geteuid() == 0:
        assert user["user"] != 0
        assert cluster.SERVER_USER == "postgres"
    else:
        assert user == {}
