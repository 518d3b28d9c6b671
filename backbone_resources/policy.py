"""Run-wide knobs the assets and checks read: the chosen tier (and why), chunk size, check thresholds.

A resource rather than module constants so the Dagster UI shows the values a run used and a launchpad can
override them for one run.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from backbone_domain.pipeline import CHUNK_BARS, chunk_days_for


class PipelinePolicy(dg.ConfigurableResource):
    tier: str
    tier_reason: str
    chunk_days: int | None = None  # fixed days a chunk; None: derived from the universe and chunk_bars
    chunk_bars: int = CHUNK_BARS
    progress_every_s: float = 5.0  # a long step logs a progress line at most this often
    freshness_max_lag_days: int = 1
    rejected_rate_warn: float = 0.05
    vanished_rows: str = "keep"  # a stored bar the source no longer has: "keep" it (reported) or "retire" it
    bad_files: str = "quarantine"  # a file set aside whole: "quarantine" it and go on, or "fail" the run
    version_retention_days: int | None = None  # superseded versions kept this long after replaced; None: forever

    def days_per_chunk(self, symbols: int) -> int:
        """Calendar days a chunk spans for a universe of ``symbols``: BACKBONE_CHUNK_DAYS when set, else as many
        as keep a chunk near BACKBONE_CHUNK_BARS bars (``pipeline.chunk_days_for``)."""
        return self.chunk_days or chunk_days_for(symbols, self.chunk_bars)

    def version_horizon(self, now: dt.datetime) -> dt.datetime | None:
        """The moment before which superseded versions go (``BarStore.prune_versions``): ``now`` less
        BACKBONE_VERSION_RETENTION_DAYS; None when versions are kept forever."""
        if self.version_retention_days is None:
            return None
        return now - dt.timedelta(days=self.version_retention_days)

    def tier_metadata(self) -> dict[str, str]:
        return {"tier": self.tier, "tier_reason": self.tier_reason}
