"""The check comparing a day's stored intraday bars with its stored daily bar (docs/streaming.md, "The check").

The day is the newest trading date with a stored daily bar: the session an end-of-day run has just closed, whose
minutes the intraday handler stored while it ran. The verdict is ``intraday_bars.verdict``, the one rule.
"""

import dagster as dg

from backbone_domain.intraday_bars import verdict
from backbone_resources.store.base import BarStore

_DESCRIPTION = "The newest day's stored intraday bars aggregate to its stored daily bar (WARN otherwise)."


def build_intraday_checks(tolerance: float) -> list[dg.AssetChecksDefinition]:
    """``tolerance``: BACKBONE_INTRADAY_CHECK_TOLERANCE, the relative difference still counted as equal."""

    @dg.asset_check(asset="daily_bars", pool="store", description=_DESCRIPTION)
    def daily_bars_match_intraday(store: BarStore) -> dg.AssetCheckResult:
        newest = max(store.latest_bar_dates().values(), default=None)
        minutes = store.read_intraday(newest, newest) if newest is not None else None
        session = newest if minutes is not None and not minutes.empty else None
        daily = None if session is None else store.read_bars(session, session, sorted(set(minutes["symbol"])))
        found = verdict(session, minutes, daily, tolerance)
        return dg.AssetCheckResult(
            passed=found.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=found.description,
            metadata={
                "session": str(found.session) if found.session else "none",
                "compared_symbols": found.compared,
                "mismatching_symbols": len(found.mismatches),
                "threshold": 0,
                "tolerance": dg.MetadataValue.float(found.tolerance),
                "mismatches": found.mismatches,
            },
        )

    return [daily_bars_match_intraday]
