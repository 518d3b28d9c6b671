"""`backbone stream intraday`: a long-running producer replaying one session's intraday bars onto the stream.

It builds the source and the tier's stream backend on the intraday topic (``StreamSettings.for_intraday``: the
local log on bootstrap, Kafka on institutional), publishes each bar when it closes on a clock running ``--speed``
times real time, prints progress, and stops cleanly on SIGTERM (exit 0) or Ctrl-C (exit 130) after the batch in
hand. Off unless ``BACKBONE_INTRADAY_ENABLED=true``; then it says so and exits 2.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Callable

import click

from backbone_domain.calendars import CalendarRangeError, is_trading_day, last_trading_day
from backbone_domain.intraday_replay import ReplayReport, SessionReplay, session_bars
from backbone_ops import exit_codes
from backbone_ops.exit_codes import UsageError, expected_errors
from backbone_ops.resources import tier_resources
from backbone_resources.settings import BackboneSettings, load_settings
from backbone_resources.stream.base import IntradayDisabled, StreamDisabled

OFF = (
    "intraday bars are off (BACKBONE_INTRADAY_ENABLED=false, the default): nothing published; "
    "set BACKBONE_INTRADAY_ENABLED=true to replay sessions onto {topic}"
)


@click.group()
def stream() -> None:
    """Long-running producers onto the stream."""


@stream.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="the session to replay [default: the latest session before today]",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="N times real time (60: a minute bar a second); a very large N or 'inf' publishes as fast as possible",
)
@click.option("--symbols", default="", help="comma list (default: the source's universe)")
def intraday(day: dt.datetime | None, speed: float, symbols: str) -> None:
    """Replay one session's intraday bars onto the intraday topic at N times real time, until SIGTERM / Ctrl-C."""
    with expected_errors():
        settings = load_settings()
        intraday_settings = settings.stream.intraday
        if not intraday_settings.enabled:
            raise IntradayDisabled(OFF.format(topic=intraday_settings.topic))
        on_intraday_topic = settings.model_copy(update={"stream": settings.stream.for_intraday()})
        with tier_resources(on_intraday_topic, "source", "stream") as res:
            if not res.stream.enabled:
                raise StreamDisabled("streaming disabled (BACKBONE_STREAMING_ENABLED=false): nothing published")
            names = [s.strip().upper() for s in symbols.split(",") if s.strip()] or res.source.universe()
            session = day.date() if day is not None else _latest_session(settings, names)
            try:
                trading = [s for s in names if is_trading_day(s, session)]
            except CalendarRangeError as exc:
                raise UsageError(str(exc)) from None
            if not trading:
                raise UsageError(f"{session} is not a trading day of any of {', '.join(names)}: no session to replay")
            frame = res.source.fetch_intraday(session, trading, intraday_settings.interval_minutes)
            replay = SessionReplay(
                session_bars(frame), speed, progress=_progress(session), progress_every_s=settings.progress_every_s
            )
            click.echo(
                f"replaying {session} ({len(set(frame['symbol']))} of {len(names)} symbols with bars that day; "
                f"{replay.report.total} bars of {intraday_settings.interval_minutes} min) "
                f"{'as fast as possible' if math.isinf(speed) else f'at {speed:g}x real time'} onto "
                f"{res.stream.topic} ({res.stream.describe()['backend']}); SIGTERM or Ctrl-C stops cleanly",
                err=True,
            )
            report = replay.run(res.stream)
    click.echo(_summary(session, report), err=True)
    if report.stopped_by == "SIGINT":
        sys.exit(exit_codes.INTERRUPTED)


def _latest_session(settings: BackboneSettings, symbols: list[str]) -> dt.date:
    """The newest session before today of any of ``symbols`` (today's is not over yet)."""
    today = settings.today or dt.datetime.now(dt.UTC).date()
    return max(last_trading_day(s, today - dt.timedelta(days=1)) for s in symbols)


def _progress(session: dt.date) -> Callable[[ReplayReport], None]:
    def show(report: ReplayReport) -> None:
        clock = f"{report.reached:%H:%M} UTC" if report.reached else "-"
        click.echo(f"{session} {clock}: sent {report.sent:,} of {report.total:,} bars", err=True)

    return show


def _summary(session: dt.date, report: ReplayReport) -> str:
    clock = f" at {report.reached:%Y-%m-%d %H:%M} UTC" if report.reached else ""
    how = f"stopped by {report.stopped_by}{clock}" if report.stopped_by else "session replayed"
    return (
        f"{how}: {report.delivered:,} of {report.total:,} bars of {session} delivered "
        f"({report.sent:,} sent in {report.batches:,} batch{'es' if report.batches != 1 else ''})"
    )
