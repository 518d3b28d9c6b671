"""Trading-day calendars: which dates carry a daily bar, for FX pairs and for NYSE-listed equities.

One place decides this so that the sources (which dates to emit), the partitions (which days hold bars)
and the freshness check (how many trading days the newest bar lags) cannot disagree.

- FX pairs (``EURUSD``, ``USDJPY=X``) trade round the clock Sunday evening to Friday evening; a daily bar is
  dated by its session, so bars fall on Sunday..Friday and never on Saturday. Holidays are ignored: the
  interbank market does not close for them.
- Everything else is an equity on the New York Stock Exchange (``XNYS`` in ``exchange_calendars``).

Session hours (``session_hours``, for intraday bars): an equity session runs from the exchange's open to its
close as ``exchange_calendars`` has them (09:30-16:00 New York, 13:00 on early-close days; daylight saving
included). An FX session dated D runs from 00:00 UTC of D to 00:00 UTC of the next day, except that the week
opens on Sunday at 17:00 New York and closes on Friday at 17:00 New York (the interbank convention), so Sunday's
session is a few hours long and Friday's ends early.

Sessions are held per calendar kind as one sorted ``int64`` array of day numbers (days since 1970-01-01),
built once and cached, so every query is a binary search: 500 symbols x 10 years cost microseconds each.
Dates outside ``[CALENDAR_START, CALENDAR_END]`` raise ``CalendarRangeError`` rather than answering silently
wrong (``exchange_calendars`` would otherwise stop a year after today).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo

import numpy as np

CalendarKind = Literal["fx", "equity"]

CALENDAR_START: Final = dt.date(1970, 1, 1)
CALENDAR_END: Final = dt.date(2100, 12, 31)
EQUITY_EXCHANGE: Final = "XNYS"

# ISO 4217 codes of currencies Yahoo quotes as pairs; a 6-letter ticker is FX only when both halves are
# currencies, so a 6-letter equity ticker is not mistaken for a pair.
_CURRENCY_LIST: Final = (
    "USD EUR JPY GBP CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF RON BGN TRY RUB ZAR ILS AED SAR QAR KWD INR "
    "PKR CNY CNH HKD SGD KRW TWD THB MYR IDR PHP VND MXN BRL ARS CLP COP PEN ISK XAU XAG"
)
CURRENCIES: Final = frozenset(_CURRENCY_LIST.split())
_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()
_NEW_YORK: Final = ZoneInfo("America/New_York")
_FX_WEEK_EDGE: Final = dt.time(17, 0)  # New York time the FX week opens (Sunday) and closes (Friday)

if TYPE_CHECKING:
    from exchange_calendars import ExchangeCalendar


class CalendarRangeError(ValueError):
    """A date lies outside the span the calendars are built for."""


def calendar_kind(symbol: str) -> CalendarKind:
    """``"fx"`` for a currency pair (``EURUSD``, ``EURUSD=X``, Yahoo's ``JPY=X``), else ``"equity"``."""
    upper = symbol.upper()
    if upper.endswith("=X"):
        return "fx"  # Yahoo uses the =X suffix only for currency quotes
    if len(upper) == 6 and upper[:3] in CURRENCIES and upper[3:] in CURRENCIES:
        return "fx"
    return "equity"


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (also accepts ``datetime`` and ``pd.Timestamp``, whose time is ignored)."""
    return day.toordinal() - _EPOCH_ORDINAL


def _check_range(*days: dt.date) -> None:
    for day in days:
        plain = dt.date(day.year, day.month, day.day)
        if not CALENDAR_START <= plain <= CALENDAR_END:
            raise CalendarRangeError(
                f"{plain.isoformat()} is outside the trading calendars' span "
                f"{CALENDAR_START.isoformat()}..{CALENDAR_END.isoformat()} (backbone_domain.calendars)"
            )


@lru_cache(maxsize=2)
def sessions(kind: CalendarKind) -> np.ndarray:
    """Sorted day numbers of every session of ``kind`` in the calendars' span (read-only, cached)."""
    if kind == "fx":
        days = np.arange(day_number(CALENDAR_START), day_number(CALENDAR_END) + 1, dtype=np.int64)
        # 1970-01-01 was a Thursday: (n + 3) % 7 is the ISO weekday minus one, so 5 is Saturday.
        days = days[(days + 3) % 7 != 5]
    elif kind == "equity":
        days = _equity_calendar().sessions.values.astype("datetime64[D]").astype(np.int64)
    else:
        raise ValueError(f"unknown calendar kind {kind!r}")
    days.setflags(write=False)
    return days


@lru_cache(maxsize=1)
def _equity_calendar() -> ExchangeCalendar:
    import exchange_calendars  # heavy import, needed only for equities

    return exchange_calendars.get_calendar(
        EQUITY_EXCHANGE, start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat()
    )


def session_hours(symbol: str, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """When the symbol's session dated ``day`` opens and closes, as UTC datetimes (see the module docstring).

    Raises ValueError when ``day`` is not one of the symbol's trading days.
    """
    if not is_trading_day(symbol, day):
        raise ValueError(f"{day.isoformat()} is not a trading day of {symbol}")
    if calendar_kind(symbol) == "equity":
        opens: Any = _equity_calendar().session_open_close(day.isoformat())
        return opens[0].to_pydatetime().astimezone(dt.UTC), opens[1].to_pydatetime().astimezone(dt.UTC)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    if day.weekday() == 6:  # Sunday: the week opens in New York's evening
        start = dt.datetime.combine(day, _FX_WEEK_EDGE, _NEW_YORK).astimezone(dt.UTC)
    elif day.weekday() == 4:  # Friday: the week closes in New York's evening
        end = dt.datetime.combine(day, _FX_WEEK_EDGE, _NEW_YORK).astimezone(dt.UTC)
    return start, end


def session_numbers(symbol: str, start: dt.date, end: dt.date) -> np.ndarray:
    """Day numbers of the symbol's sessions in [start, end], inclusive; a view into the cached array."""
    _check_range(start, end)
    days = sessions(calendar_kind(symbol))
    lo = np.searchsorted(days, day_number(start), side="left")
    hi = np.searchsorted(days, day_number(end), side="right")
    return days[lo:hi]


def trading_days(symbol: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """The symbol's trading dates in [start, end], inclusive, ascending (empty when end < start)."""
    return session_numbers(symbol, start, end).astype("datetime64[D]").tolist()


def is_trading_day(symbol: str, day: dt.date) -> bool:
    """Whether the symbol has a session on ``day``."""
    return session_numbers(symbol, day, day).size == 1


def last_trading_day(symbol: str, on_or_before: dt.date) -> dt.date:
    """The symbol's latest trading date not after ``on_or_before``."""
    _check_range(on_or_before)
    days = sessions(calendar_kind(symbol))
    index = int(np.searchsorted(days, day_number(on_or_before), side="right")) - 1
    if index < 0:
        raise CalendarRangeError(f"no {symbol} session on or before {on_or_before.isoformat()}")
    return days[index : index + 1].astype("datetime64[D]").tolist()[0]


def trading_days_between(symbol: str, earlier: dt.date, later: dt.date) -> int:
    """Sessions strictly after ``earlier`` up to and including ``later``: a lag measured in trading days.

    Zero when ``later`` is not after ``earlier`` (a bar dated after the reference date does not lag).
    """
    _check_range(earlier, later)
    days = sessions(calendar_kind(symbol))
    count = int(np.searchsorted(days, day_number(later), side="right")) - int(
        np.searchsorted(days, day_number(earlier), side="right")
    )
    return max(count, 0)
