"""`backbone stack up|down|status|restart|rotate`: the deployed topology as processes on 127.0.0.1 (backbone_ops/stack).

``up`` prints each process as it starts and becomes healthy, then the endpoints; ``status`` exits 1 when a
process is not healthy (so it works as a readiness probe); ``down`` stops exactly what ``up`` started.
"""

from __future__ import annotations

import json

import click

from backbone_ops.exit_codes import PROBLEM
from backbone_ops.stack import lifecycle
from backbone_ops.stack.settings import HOST, StackSettings


def _settings() -> StackSettings:
    return StackSettings()


@click.group()
def stack() -> None:
    """The institutional topology on loopback, without Docker (settings: BACKBONE_STACK_*)."""


@stack.command()
@click.option("--only", multiple=True, help="start this service and what it needs (repeatable); default: all")
def up(only: tuple[str, ...]) -> None:
    """Start every process in dependency order and wait until each is healthy."""
    cfg = _settings()
    click.echo(f"stack: starting in {cfg.root}")
    try:
        took = lifecycle.up(cfg, only, say=click.echo)
    except lifecycle.StackError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"stack: healthy in {took:.1f} s")
    click.echo(f"  Dagster UI  http://{HOST}:{cfg.webserver_port}")
    click.echo(f"  Spark UI    http://{HOST}:{cfg.spark_master_ui_port}")
    click.echo(f"  logs        {cfg.root / 'logs'}")


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object per process")
def status(as_json: bool) -> None:
    """Each process: supervisord's state, pid, uptime and its health probe's verdict."""
    rows = lifecycle.status(_settings())
    if not rows:
        click.echo("stack: not running")
        raise SystemExit(PROBLEM)
    for row in rows:
        if as_json:
            click.echo(json.dumps({**row.__dict__, "healthy": row.healthy}))
        else:
            verdict = "healthy" if row.healthy else f"UNHEALTHY: {row.problem}"
            click.echo(f"{row.name:<18} {row.state:<9} pid {row.pid or '-':<8} up {row.uptime_s:>6.0f} s  {verdict}")
    if not all(row.healthy for row in rows):
        raise SystemExit(PROBLEM)


@stack.command()
@click.argument("names", nargs=-1, required=True)
def restart(names: tuple[str, ...]) -> None:
    """Rolling restart: each process restarted (re-reading its secrets) and healthy before the next."""
    try:
        lifecycle.restart(_settings(), names, say=click.echo)
    except lifecycle.StackError as exc:
        raise click.ClickException(str(exc)) from exc


@stack.command()
@click.argument("services", nargs=-1, required=True, type=click.Choice(["postgres", "redis"]))
def rotate(services: tuple[str, ...]) -> None:
    """New password for each SERVICE's user `backbone`: set on the server, written to the secret file, then one
    rolling restart of the long-lived readers (docs/operations/runbooks/rotate-credentials.md). Prints no secret."""
    from backbone_ops.stack import rotation

    try:
        readers = rotation.rotate(_settings(), services, say=click.echo)  # type: ignore[arg-type]
    except lifecycle.StackError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"stack: {', '.join(services)} rotated; restarted {', '.join(readers) or 'no reader (none running)'}")


@stack.command()
def down() -> None:
    """Stop every process the stack started, and supervisord."""
    lifecycle.down(_settings(), say=click.echo)
