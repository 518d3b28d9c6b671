"""Asset checks on daily_bars. Each measures from the store (not from a loaded value, which would pull every
partition) and records the measured figure beside its threshold, so the UI can plot it over time."""

from collections.abc import Iterator

import dagster as dg

from backbone_assets.partitions import last_partition_date
from backbone_domain import source_truth
from backbone_domain.freshness import symbol_lags
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore, QualityCounts


def build_daily_bars_checks(partitions: dg.DailyPartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="daily_bars", pool="store", description="Newest bar per symbol vs the last expected trading day."
    )
    def daily_bars_fresh(source: BarSource, store: BarStore, policy: PipelinePolicy) -> dg.AssetCheckResult:
        as_of = last_partition_date(partitions)
        lags = symbol_lags(store.latest_bar_dates(), source.universe(), as_of)
        stale = [lag.symbol for lag in lags if not lag.within(policy.freshness_max_lag_days)]
        known = [lag.lag_days for lag in lags if lag.lag_days is not None]
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"stale: {', '.join(stale)}" if stale else "every symbol is current",
            metadata={
                # No sentinel when nothing is stored: a -1 would plot as a real lag in the UI.
                **({"max_lag_days": max(known)} if known else {}),
                "threshold_lag_days": policy.freshness_max_lag_days,
                "stale_symbols": len(stale),
                "symbols_without_bars": len(lags) - len(known),
                "as_of": str(as_of),
                "lag_days_by_symbol": {
                    lag.symbol: {
                        "latest": str(lag.latest),
                        "expected": str(lag.expected),
                        "lag": lag.lag_days,
                    }
                    for lag in lags
                },
            },
        )

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec("daily_bars_unique_keys", asset="daily_bars", blocking=True, description=_UNIQUE),
            dg.AssetCheckSpec("daily_bars_ohlc_consistent", asset="daily_bars", blocking=True, description=_OHLC),
            dg.AssetCheckSpec("daily_bars_rejected_rate", asset="daily_bars", description=_REJECTED),
            dg.AssetCheckSpec("daily_bars_matches_source", asset="daily_bars", description=_SOURCE),
        ],
        pool="store",
        can_subset=True,
    )
    def daily_bars_quality(
        context: dg.AssetCheckExecutionContext, store: BarStore, policy: PipelinePolicy
    ) -> Iterator[dg.AssetCheckResult]:
        """Four verdicts from one pass over the store (``quality_counts`` scans every bar: once, not four times)."""
        counts = store.quality_counts()
        results = [
            _none_allowed("daily_bars_unique_keys", "duplicate_keys", counts.duplicate_keys, counts.bars),
            _none_allowed("daily_bars_ohlc_consistent", "ohlc_violations", counts.ohlc_violations, counts.bars),
            _rejected_rate(counts, policy),
            _matches_source(counts),
        ]
        selected = {key.name for key in context.selected_asset_check_keys}
        yield from (result for result in results if result.check_name in selected)

    return [daily_bars_fresh, daily_bars_quality]


def _none_allowed(check: str, measure: str, found: int, rows: int) -> dg.AssetCheckResult:
    """A check whose threshold is zero: passes only when nothing was found."""
    metadata = {measure: found, "threshold": 0, "rows": rows}
    return dg.AssetCheckResult(check_name=check, passed=found == 0, metadata=metadata)


def _rejected_rate(counts: QualityCounts, policy: PipelinePolicy) -> dg.AssetCheckResult:
    total = counts.bars + counts.rejected
    rate = counts.rejected / total if total else 0.0
    return dg.AssetCheckResult(
        check_name="daily_bars_rejected_rate",
        passed=rate <= policy.rejected_rate_warn,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected_rate": dg.MetadataValue.float(round(rate, 6)),
            "threshold": dg.MetadataValue.float(policy.rejected_rate_warn),
            "rejected_rows": counts.rejected,
            "stored_rows": counts.bars,
        },
    )


def _matches_source(counts: QualityCounts) -> dg.AssetCheckResult:
    passed, description = source_truth.verdict(counts.kept_over_source)
    return dg.AssetCheckResult(
        check_name="daily_bars_matches_source",
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"stored_values_kept_over_source": counts.kept_over_source, "threshold": 0},
    )


_UNIQUE = "Exactly one row per (symbol, ts)."
_OHLC = "low <= open, close <= high and prices positive."
_REJECTED = "Share of source rows quarantined in rejected_bars."
_SOURCE = "No stored bar is served against the source (a refused correction, a row gone from its file)."
