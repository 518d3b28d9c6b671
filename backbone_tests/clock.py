"""The tests' "today": injected, never read from the wall clock, so the suite passes on any day of the year.

Every test runs with ``BACKBONE_TODAY`` pinned (the autouse fixture in conftest.py); a test that starts the CLI
with its own environment passes ``PINNED`` on. Date-sensitive tests also run on ``AWKWARD_DAYS``: a Sunday
(yesterday a Saturday), a Monday (yesterday a Sunday: the newest trading day is two days back) and New Year's day
(a holiday after the year's last session).
"""

from __future__ import annotations

import datetime as dt

TODAY = dt.date(2025, 3, 4)  # a Tuesday: yesterday was a trading day everywhere
PINNED = {"BACKBONE_TODAY": TODAY.isoformat()}
AWKWARD_DAYS = [dt.date(2025, 3, 2), dt.date(2025, 3, 3), dt.date(2025, 1, 1)]  # Sunday, Monday, 1 January
