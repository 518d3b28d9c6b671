"""Ingest layer: what the source returned, landed as-is so validation can be re-run without re-fetching.

The asset itself (``daily_bars_raw``) is built with ``daily_bars`` in one step (``bars_flow``); here are its
check, the files the source sets aside, and what a run shows."""

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from backbone_domain.pipeline import LandingReport
from backbone_domain.quarantined_files import (
    QuarantinedFile,
    describe_quarantine,
    quarantine_frame,
    refusal,
    rows_in_quarantine,
)
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource, SourceUnreadable
from backbone_resources.store.base import BarStore

OWNERS = ["team:market-data"]
# An outage of the source or the store (a restart, a dropped connection) outlasts a moment: retry after 10 s, 20 s
# (BACKBONE_STORE_RETRY_DELAY_S sets the first wait).
OUTAGE_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def outage_retry(delay_s: float = 10.0) -> dg.RetryPolicy:
    return dg.RetryPolicy(max_retries=OUTAGE_RETRY.max_retries, delay=delay_s, backoff=OUTAGE_RETRY.backoff)


def landing_metadata(
    report: LandingReport,
    start: dt.date,
    end: dt.date,
    days: int,
    source: BarSource,
    quarantined: list[QuarantinedFile],
    policy: PipelinePolicy,
) -> dict[str, object]:
    """What a run of ``daily_bars_raw`` shows: rows and symbols fetched, chunks, files set aside."""
    return {
        "rows_fetched": report.rows,
        "symbols": len(report.per_symbol),
        **_per_symbol(report.per_symbol),
        "date_range": f"{start}..{end}",
        "chunks": report.chunks,
        "chunk_days": days,
        "source": source.name,
        "quarantined_files": len(quarantined),
        **_files_table(quarantined),
        **policy.tier_metadata(),
    }


def build_ingest_checks() -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="daily_bars_raw",
        pool="store",
        description="No source file is set aside whole (quarantined_files: `backbone rejected` lists them).",
    )
    def daily_bars_raw_files_readable(store: BarStore) -> dg.AssetCheckResult:
        files = store.read_quarantined_files()
        return dg.AssetCheckResult(
            passed=files.empty,
            severity=dg.AssetCheckSeverity.WARN,
            description=describe_quarantine(files),
            metadata={
                "quarantined_files": len(files),
                "rows_in_quarantined_files": rows_in_quarantine(files),
                "threshold": 0,
            },
        )

    return [daily_bars_raw_files_readable]


def quarantine(
    context: dg.AssetExecutionContext, source: BarSource, store: BarStore, policy: PipelinePolicy
) -> list[QuarantinedFile]:
    """Record the files the source sets aside whole (the list replaces the last run's), one warning each; with
    BACKBONE_SOURCE_BAD_FILES=fail, fail the run on the first of them before anything lands."""
    files = source.quarantined_files()
    store.replace_quarantined_files(source.name, quarantine_frame(source.name, files, dt.datetime.now(dt.UTC)))
    for file in files:
        context.log.warning(f"quarantined file {file.path}: {file.reason}")
    if files and policy.bad_files == "fail":
        raise SourceUnreadable(refusal(files))
    return files


def _files_table(files: list[QuarantinedFile]) -> dict[str, object]:
    """The quarantined files as a Markdown table (the first _TABLE_UP_TO; `backbone rejected` lists all)."""
    if not files:
        return {}
    lines = ["| file | rows | reason |", "| --- | ---: | --- |"]
    for file in files[:_TABLE_UP_TO]:
        cells = (file.path, "?" if file.rows is None else str(file.rows), file.reason)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return {"quarantined_file_list": dg.MetadataValue.md("\n".join(lines))}


# One event of a run holds the table (``range_result``); a 5,000-symbol table would still be a large event:
# small universes get the table, large ones the spread.
_TABLE_UP_TO = 50


def _per_symbol(rows: Mapping[str, int]) -> dict[str, object]:
    if len(rows) <= _TABLE_UP_TO:
        return {"rows_per_symbol": dict(sorted(rows.items()))}
    counts = sorted(rows.values())
    return {"rows_per_symbol_min": counts[0], "rows_per_symbol_max": counts[-1]}
