"""``stack up|down|status|restart``: the services started in dependency order and watched until healthy.

``up`` is re-runnable: a stack already up is left as it is and only what is stopped is started. ``down`` stops
exactly what ``up`` started: every program's process group through supervisord, then supervisord; whatever of
their descendants outlived that (none expected) is named and killed, so nothing is left behind.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from backbone_ops.stack.services import (
    INSTANCE_YAML,
    REPO,
    Service,
    StackPaths,
    build_services,
    ensure_secrets,
    workspace_yaml,
    write_url_secrets,
)
from backbone_ops.stack.settings import StackSettings
from backbone_ops.stack.supervisor import Supervisor, render

Say = Callable[[str], None]
_POLL_S = 0.5


class StackError(RuntimeError):
    """The stack could not be brought up (or down); the message names the process and its log."""


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    state: str  # supervisord's: RUNNING, STARTING, STOPPED, FATAL, BACKOFF, EXITED...
    pid: int | None
    uptime_s: float
    problem: str | None  # None when healthy

    @property
    def healthy(self) -> bool:
        return self.state == "RUNNING" and self.problem is None


def select(services: list[Service], only: Iterable[str] = ()) -> list[Service]:
    """``only`` and everything it waits for (all services when empty), in the description's order."""
    by_name = {s.name: s for s in services}
    wanted = set(only) or set(by_name)
    unknown = wanted - set(by_name)
    if unknown:
        raise StackError(f"no service named {', '.join(sorted(unknown))} (known: {', '.join(by_name)})")
    todo = list(wanted)
    while todo:
        for dep in by_name[todo.pop()].after:
            if dep not in wanted:
                wanted.add(dep)
                todo.append(dep)
    return [s for s in services if s.name in wanted]


def _write_instance(cfg: StackSettings, paths: StackPaths) -> None:
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_YAML, paths.dagster_home / "dagster.yaml")
    (paths.dagster_home / "workspace.yaml").write_text(workspace_yaml(cfg))


def _probe_all(services: list[Service]) -> dict[str, str | None]:
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        return dict(zip([s.name for s in services], pool.map(lambda s: s.probe(), services), strict=True))


def up(cfg: StackSettings, only: Iterable[str] = (), say: Say = print) -> float:
    """Start the stack (or the part ``only`` needs); returns the seconds it took to be healthy."""
    began = time.monotonic()
    paths = StackPaths(cfg.root)
    paths.root.mkdir(parents=True, exist_ok=True)
    ensure_secrets(paths)
    write_url_secrets(cfg, paths)
    _write_instance(cfg, paths)
    everything = build_services(cfg)
    services = select(everything, only)
    supervisor = Supervisor(paths)
    if supervisor.pid() is None:
        supervisor.start(render(everything, paths, workdir=REPO))
    rpc = supervisor.rpc()
    state = {p["name"]: p["statename"] for p in supervisor.processes()}
    healthy: set[str] = set()
    started = {s.name for s in services if state.get(s.name) in ("RUNNING", "STARTING")}
    deadline = began + cfg.up_timeout_s
    while len(healthy) < len(services):
        for service in services:
            if service.name in started or not all(dep in healthy for dep in service.after):
                continue
            if service.prepare is not None:
                service.prepare()
            rpc.startProcess(service.name, False)
            started.add(service.name)
            say(f"  {service.name}: starting")
        waiting = [s for s in services if s.name in started and s.name not in healthy]
        states = {p["name"]: p for p in supervisor.processes()}
        for name, problem in _probe_all([s for s in waiting if states[s.name]["statename"] == "RUNNING"]).items():
            if problem is None:
                service = next(s for s in services if s.name == name)
                if service.on_healthy is not None:
                    service.on_healthy()
                healthy.add(name)
                say(f"  {name}: healthy ({time.monotonic() - began:.1f} s)")
        failed = [s.name for s in waiting if states[s.name]["statename"] in ("FATAL", "EXITED", "BACKOFF")]
        if failed:
            logs = ", ".join(str(paths.logs / f"{n}.log") for n in failed)
            raise StackError(f"{', '.join(failed)} could not start: see {logs}")
        if time.monotonic() > deadline:
            late = sorted(s.name for s in waiting if s.name not in healthy)
            raise StackError(f"not healthy after {cfg.up_timeout_s:.0f} s: {', '.join(late)} (logs in {paths.logs})")
        if len(healthy) < len(services):
            time.sleep(_POLL_S)
    return time.monotonic() - began


def status(cfg: StackSettings) -> list[ProcessStatus]:
    """Every process supervisord knows, with its state and its probe's verdict (empty: the stack is down)."""
    paths = StackPaths(cfg.root)
    supervisor = Supervisor(paths)
    if supervisor.pid() is None:
        return []
    services = {s.name: s for s in build_services(cfg)}
    infos = supervisor.processes()
    running = [services[p["name"]] for p in infos if p["statename"] == "RUNNING" and p["name"] in services]
    problems = _probe_all(running)
    return [
        ProcessStatus(
            name=p["name"],
            state=p["statename"],
            pid=p["pid"] or None,
            uptime_s=float(p["now"] - p["start"]) if p["statename"] == "RUNNING" else 0.0,
            problem=problems.get(p["name"], None if p["statename"] == "RUNNING" else p["statename"].lower()),
        )
        for p in infos
    ]


def restart(cfg: StackSettings, names: Iterable[str], say: Say = print) -> None:
    """A rolling restart: each named process stopped, started (re-reading its secrets) and healthy before the next."""
    paths = StackPaths(cfg.root)
    supervisor = Supervisor(paths)
    if supervisor.pid() is None:
        raise StackError("the stack is not up")
    by_name = {s.name: s for s in build_services(cfg)}
    rpc = supervisor.rpc()
    for name in names:
        service = by_name.get(name)
        if service is None:
            raise StackError(f"no service named {name}")
        rpc.stopProcess(name, True)
        rpc.startProcess(name, True)
        deadline = time.monotonic() + cfg.up_timeout_s
        while (problem := service.probe()) is not None:
            if time.monotonic() > deadline:
                raise StackError(f"{name} not healthy after its restart: {problem}")
            time.sleep(_POLL_S)
        say(f"  {name}: restarted, healthy")


def down(cfg: StackSettings, say: Say = print) -> list[int]:
    """Stop everything ``up`` started; returns the pids of stray descendants that had to be killed (none
    expected)."""
    import psutil

    paths = StackPaths(cfg.root)
    supervisor = Supervisor(paths)
    pid = supervisor.pid()
    if pid is None:
        say("stack: not running")
        return []
    ours = psutil.Process(pid).children(recursive=True)
    supervisor.shutdown()
    _, alive = psutil.wait_procs(ours, timeout=5)
    for proc in alive:
        say(f"  stray process {proc.pid} ({' '.join(proc.cmdline()[:3])}) outlived its group: killed")
        proc.kill()
    psutil.wait_procs(alive, timeout=5)
    say(f"stack: down ({len(ours)} processes stopped)")
    return [p.pid for p in alive]
