"""Run-wide knobs the assets and checks read: the chosen tier (and why), chunk size, check thresholds.

A resource rather than module constants so the Dagster UI shows the values a run used and a launchpad can
override them for one run.
"""

from __future__ import annotations

import dagster as dg


class PipelinePolicy(dg.ConfigurableResource):
    tier: str
    tier_reason: str
    chunk_days: int = 31
    freshness_max_lag_days: int = 1
    rejected_rate_warn: float = 0.05

    def tier_metadata(self) -> dict[str, str]:
        return {"tier": self.tier, "tier_reason": self.tier_reason}
