"""The stack's processes under supervisord: one config rendered from ``services``, one log file a process,
restarts of a process that dies, and a shutdown that stops each program's whole process group (Spark executors,
Dagster run workers) before supervisord itself exits.

Programs are registered with ``autostart=false``; ``lifecycle`` starts them in dependency order over
supervisord's XML-RPC interface (a unix socket in the stack directory, mode 0700).
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from backbone_ops.stack.services import Service, StackPaths


def _conf_value(text: str) -> str:
    return text.replace("%", "%%")  # supervisord expands %(name)s in values


def _program_command(service: Service, paths: StackPaths) -> str:
    if not service.env and not service.secret_env:
        return shlex.join(service.command)
    spec = paths.launch / f"{service.name}.json"
    spec.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    spec.touch(mode=0o600)
    spec.write_text(
        json.dumps(
            {
                "command": list(service.command),
                "env": service.env,
                "secret_env": service.secret_env,
                "secrets_dir": str(paths.secrets),
            },
            indent=1,
        )
    )
    return shlex.join([sys.executable, "-m", "backbone_ops.stack.launch", str(spec)])


def render(services: list[Service], paths: StackPaths, workdir: Path) -> str:
    sock = paths.root / "supervisor.sock"
    lines = [
        "[unix_http_server]",
        f"file={sock}",
        "chmod=0700",
        "[supervisord]",
        f"logfile={paths.logs / 'supervisord.log'}",
        f"pidfile={paths.root / 'supervisord.pid'}",
        f"childlogdir={paths.logs}",
        f"directory={workdir}",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "[supervisorctl]",
        f"serverurl=unix://{sock}",
    ]
    levels = _levels(services)
    for service in services:
        lines += [
            f"[program:{service.name}]",
            # supervisord stops in reverse priority, a priority's processes together: the daemon first, the stores
            # last, each level of the dependency graph in parallel
            f"priority={100 + 10 * levels[service.name]}",
            f"command={_conf_value(_program_command(service, paths))}",
            f"directory={workdir}",
            "autostart=false",
            "autorestart=unexpected",
            f"startsecs={service.start_secs}",
            "startretries=3",
            f"stopsignal={service.stop_signal}",
            "stopwaitsecs=20",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={paths.logs / (service.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
        ]
        if service.user:
            lines.append(f"user={service.user}")
    return "\n".join(lines) + "\n"


def _levels(services: list[Service]) -> dict[str, int]:
    """How deep each service sits in the ``after`` graph (0: waits for nothing)."""
    levels: dict[str, int] = {}
    for service in services:  # the description lists a service after what it waits for
        levels[service.name] = 1 + max((levels[dep] for dep in service.after), default=-1)
    return levels


class Supervisor:
    """supervisord of one stack directory: started once, then driven over XML-RPC."""

    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self.conf = paths.root / "supervisord.conf"
        self.sock = paths.root / "supervisor.sock"
        self.pidfile = paths.root / "supervisord.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.sock}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def start(self, config: str) -> None:
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        self.conf.touch(mode=0o600)
        self.conf.write_text(config)
        supervisord = str(Path(sys.executable).with_name("supervisord"))
        subprocess.run([supervisord, "-c", str(self.conf)], check=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.rpc().getState()["statename"] == "RUNNING":
                    return
            except (OSError, xmlrpc.client.Fault):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"supervisord did not come up; see {self.paths.logs / 'supervisord.log'}")

    def processes(self) -> list[dict[str, Any]]:
        return self.rpc().getAllProcessInfo()

    def shutdown(self, timeout_s: float = 90.0) -> None:
        """Stop every program (each one's process group), then supervisord; wait until it has exited."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(OSError, xmlrpc.client.Fault):  # already shutting down
            self.rpc().shutdown()
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            raise RuntimeError(f"supervisord (pid {pid}) still running {timeout_s:.0f} s after shutdown")


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
