"""The source seam: one interface, one implementation per kind of origin (synthetic, files, Yahoo)."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence

import pandas as pd
from dagster import ConfigurableResource

from backbone_domain.quarantined_files import QuarantinedFile
from backbone_resources.probe import Probe, probing
from backbone_resources.unavailable import SourceUnavailable, SourceUnreadable

__all__ = ["BarSource", "IntradayUnsupported", "SourceUnavailable", "SourceUnreadable"]


class IntradayUnsupported(ValueError):
    """The configured source has no intraday bars (the synthetic and file sources have them; Yahoo not yet)."""


class BarSource(ConfigurableResource, ABC):
    """Returns raw daily bars for a date range; never validates or drops anything.

    Contract for ``fetch``:
      Args: start, end: inclusive trading-date range. symbols: a subset of ``universe()``; None = all of it.
      Returns: a frame with ``backbone_domain.bars.RAW_COLUMNS``, one row per record the origin holds whose
        trading date falls in [start, end] (or, for a record whose date is unreadable, whose ``partition_date``
        the source assigned to that range, so that it is returned exactly once over any partitioning).
        Values are as the origin had them; ``source`` names this source (e.g. ``synthetic``, ``csv``).
        Rows are ordered by symbol, then partition_date, then ts (an unreadable date, NaT, after the others).
      Same arguments, same data: calling it twice gives equal frames.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Short name stored with every bar (``source`` column)."""

    @abstractmethod
    def universe(self) -> list[str]:
        """Symbols this source serves, narrowed by BACKBONE_SYMBOLS when set."""

    @abstractmethod
    def fetch(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Raw bars of [start, end]; see the class docstring."""

    def fetch_intraday(
        self, session: dt.date, symbols: Sequence[str] | None = None, interval_minutes: int = 1
    ) -> pd.DataFrame:
        """The N-minute bars of one trading session; only a source that has them overrides this.

        Args: session: the trading date. symbols: as for ``fetch``. interval_minutes: N, counted from the open.
        Returns: a frame with ``backbone_domain.bars.INTRADAY_COLUMNS``, ordered by symbol then ts: every
          interval of each symbol's session hours (``calendars.session_hours``) that the origin has a bar in
          (the synthetic source: all of them), none for a symbol without a session that day. ``ts`` is the
          interval's start (UTC); the last interval ends at the close.
          The bars aggregate to the day's bar ``fetch`` returns: first open, max high, min low, last close,
          summed volume (the synthetic source: exactly, bit for bit).
        Raises: IntradayUnsupported when the source has no intraday bars.
        """
        raise IntradayUnsupported(f"the {self.name} source has no intraday bars (synthetic and csv:<dir> have)")

    def quarantined_files(self) -> list[QuarantinedFile]:
        """Inputs set aside whole, each with its reason (``fetch`` returns none of their rows); none by default:
        only a source that reads user files has a file to set aside."""
        return []

    def release(self) -> None:
        """Drop what the source keeps to serve a range's chunks (parsed files); it stays usable and reads them
        again when asked. ``land_raw`` calls it once the range is landed, so validation, which needs the
        memory next, does not run beside a whole universe of parsed files. Nothing to drop by default."""

    def probe(self) -> Probe:
        """Whether the source can name its universe (a directory listing at most; no download)."""

        def answers() -> None:
            self.universe()

        return probing(self.name, self.name, answers)
