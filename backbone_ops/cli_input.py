"""What a reading command was asked, read strictly: a bad moment, date or symbol is a ``UsageError`` (one
``error:`` line, exit code 2) rather than Click's usage block or an empty answer that looks like missing data."""

from __future__ import annotations

import datetime as dt

from backbone_ops.exit_codes import UsageError
from backbone_resources.store.base import BarStore

EXAMPLE_MOMENT = "2024-03-12T08:00:00Z"


def moment(option: str, text: str) -> dt.datetime:
    """An ISO 8601 timestamp with its time zone, as UTC. A naive one is refused rather than guessed: the same
    wall-clock time is hours apart in London and New York, and an as-of read must name one instant."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a timestamp: write ISO 8601 with a time zone, e.g. {EXAMPLE_MOMENT}"
        ) from None
    if parsed.tzinfo is None:
        raise UsageError(f"{option} {text!r} has no time zone: add one (Z for UTC), e.g. {EXAMPLE_MOMENT}")
    return parsed.astimezone(dt.UTC)


def day(option: str, text: str) -> dt.date:
    """A trading date written YYYY-MM-DD."""
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date: write YYYY-MM-DD, e.g. 2024-03-12") from None


def require_known(store: BarStore, symbol: str) -> None:
    """Refuse a symbol the store holds no bar of (asked only once an answer came back empty, so a symbol the
    store knows costs nothing extra)."""
    known = store.latest_bar_dates()
    if symbol not in known:
        listed = ", ".join(sorted(known)[:10]) + (", …" if len(known) > 10 else "")
        holds = f"it holds {listed}" if known else "it holds no bars yet"
        raise UsageError(f"unknown symbol {symbol}: the store holds no bar of it ({holds})")
