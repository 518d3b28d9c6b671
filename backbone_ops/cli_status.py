"""`backbone status`: freshness, latest run, hit ratio, consumer lag and run failures, printed and written.

Writes ``status.md``, ``status.json`` and ``metrics.prom`` (Prometheus text; point node_exporter's textfile
collector at the directory on the bootstrap tier), pushes to a Pushgateway when one is configured, and with
``--serve`` keeps a /metrics endpoint up that re-measures on scrape. Exit codes: 0 healthy; 1 a component is
unavailable, a figure breaches its threshold or the push failed (like `backbone check`); 2 bad settings or a
port that cannot be bound. ``--serve`` exits 0 after a clean stop: a service's health is in what it served.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from backbone_domain.health import HealthSnapshot, to_json
from backbone_domain.redaction import redact_url
from backbone_ops import exit_codes
from backbone_ops.exit_codes import expected_errors
from backbone_ops.status import prometheus, push, render
from backbone_ops.status.measure import measure, redact
from backbone_ops.status.publish import publish_health
from backbone_resources.settings import BackboneSettings, load_settings

FILES = ("status.md", "status.json", "metrics.prom")
ASK_SETTING = -1  # an option given without a value: take it from the settings


def write_files(snap: HealthSnapshot, out: Path) -> list[Path]:
    """The three snapshot files; metrics.prom is replaced atomically (a collector never reads half of it)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "status.md").write_text(render.markdown(snap), encoding="utf-8")
    (out / "status.json").write_text(to_json(snap) + "\n", encoding="utf-8")
    prometheus.write_textfile(snap, str(out / "metrics.prom"))
    return [out / name for name in FILES]


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="default BACKBONE_STATUS_DIR")
@click.option("--json", "as_json", is_flag=True, help="print status.json instead of the summary")
@click.option(
    "--serve",
    type=int,
    is_flag=False,
    flag_value=ASK_SETTING,
    default=None,
    metavar="[PORT]",
    help="serve /metrics on PORT (default BACKBONE_METRICS_PORT) until SIGTERM / Ctrl-C or --serve-for",
)
@click.option("--serve-for", type=click.FloatRange(min=0.1), default=None, help="stop serving after SECONDS")
@click.option(
    "--refresh",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="seconds between re-measures while serving",
)
@click.option(
    "--push",
    "push_url",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[URL]",
    help="push to this Pushgateway (default BACKBONE_METRICS_PUSHGATEWAY, which also pushes without --push)",
)
@click.option(
    "--publish",
    is_flag=True,
    help="also publish the snapshot as a health event on BACKBONE_HEALTH_TOPIC (for a deployment without the "
    "Dagster daemon, whose ingest_health_sensor does it otherwise)",
)
def status(
    out_dir: Path | None,
    as_json: bool,
    serve: int | None,
    serve_for: float | None,
    refresh: float,
    push_url: str | None,
    publish: bool,
) -> None:
    """Print the platform's health and write status.md, status.json and metrics.prom."""
    with expected_errors():
        settings = load_settings()
    snap = measure(settings)
    out = out_dir or settings.telemetry.status_dir or settings.home / "status"
    written = write_files(snap, out)
    click.echo(to_json(snap) if as_json else render.console(snap))
    click.echo(f"wrote {', '.join(str(p) for p in written)}", err=as_json)
    pushed = _push(snap, settings, push_url)
    published = _publish(snap, settings) if publish else True
    if serve is not None:
        _serve(snap, settings, serve, serve_for, refresh)
        sys.exit(exit_codes.OK)  # a clean stop of a service; its health is in what it served
    sys.exit(exit_codes.OK if snap.healthy and pushed and published else exit_codes.PROBLEM)


def _publish(snap: HealthSnapshot, settings: BackboneSettings) -> bool:
    """The snapshot as a health event; a stream that does not take it is a problem (exit 1), like a failed push."""
    topic = settings.stream.health_topic
    try:
        report = publish_health(snap, settings)
    except Exception as exc:  # noqa: BLE001 - a broker down or refusing: report it, the files are written
        click.echo(f"publish to {topic} failed: {redact(str(exc), settings)}", err=True)
        return False
    click.echo(f"published the health event to {topic}" if report else "streaming disabled: not published", err=True)
    return True


def _push(snap: HealthSnapshot, settings: BackboneSettings, push_url: str | None) -> bool:
    configured = settings.telemetry.metrics_pushgateway
    url = push_url or (configured.get_secret_value() if configured else None)
    if push_url == "" and url is None:
        click.echo("error: --push without a URL needs BACKBONE_METRICS_PUSHGATEWAY", err=True)
        return False
    if url is None:
        return True
    try:
        groups = push.push(snap, url)
    except Exception as exc:  # noqa: BLE001 - urllib raises several kinds; any means "not pushed"
        click.echo(f"push to {redact_url(url)} failed: {redact(str(exc), settings)}", err=True)
        return False
    click.echo(f"pushed to {redact_url(url)}: {', '.join(groups)}", err=True)
    return True


def _serve(
    first: HealthSnapshot, settings: BackboneSettings, port: int, serve_for: float | None, refresh: float
) -> None:
    """Serve until SIGTERM/SIGINT or ``serve_for`` seconds."""
    port = settings.telemetry.metrics_port if port == ASK_SETTING else port
    source = prometheus.RefreshingSource(lambda: measure(settings), refresh, first)
    try:
        stop = prometheus.serve(source, port, settings.telemetry.metrics_addr)
    except OSError as exc:
        click.echo(f"error: cannot serve on {settings.telemetry.metrics_addr}:{port}: {exc}", err=True)
        sys.exit(exit_codes.CANNOT_RUN)
    click.echo(f"serving http://{settings.telemetry.metrics_addr}:{port}/metrics (SIGTERM stops)", err=True)
    done = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        done.wait(timeout=serve_for)
    finally:
        stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped serving", err=True)
