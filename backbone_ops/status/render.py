"""Human renderings of a health snapshot: the console lines of `backbone status` and ``status.md``.

Both are built from the same short sentences (``lines``), so what an operator reads in the terminal is what the
snapshot file says.
"""

from __future__ import annotations

from backbone_domain.health import HealthSnapshot


def verdict(snap: HealthSnapshot) -> str:
    problems = [f"{c.name} unavailable" for c in snap.unavailable()] + snap.breaches()
    return "OK" if not problems else "DEGRADED: " + "; ".join(problems)


def lines(snap: HealthSnapshot) -> list[tuple[str, str]]:
    """(label, sentence) pairs in reading order."""
    down = {c.name: c.detail for c in snap.components if c.state == "unavailable"}
    out = [("tier", f"{snap.tier} ({snap.tier_reason})")]
    fresh = snap.freshness
    if fresh is not None:
        lag = "n/a (no bars)" if fresh.max_lag_days is None else f"{fresh.max_lag_days} trading day(s)"
        stale = f"stale: {', '.join(fresh.stale_symbols)}" if fresh.stale_symbols else "all current"
        out.append(
            (
                "freshness",
                f"newest bar {fresh.newest_bar or 'none'}, lag {lag} (threshold {fresh.threshold_lag_days}, "
                f"as of {fresh.as_of}); {fresh.symbols} symbol(s), {stale}",
            )
        )
    else:
        out.append(("freshness", f"unavailable: {down.get('store', 'not measured')}"))
    if snap.bars_stored is not None:
        out.append(("bars stored", str(snap.bars_stored)))
    if snap.source is not None:
        kept, files = snap.source.stored_values_kept_over_source, snap.source.quarantined_files
        out.append(("source", f"{kept} stored value(s) kept over the source, {files} file(s) quarantined whole"))
    run = snap.latest_run
    if run is not None:
        out.append(
            (
                "latest run",
                f"{run.rows_ingested} rows ingested, {run.rows_rejected} rejected (rate {run.rejected_rate:.4f}, "
                f"threshold {run.threshold_rejected_rate}); daily_bars {run.date_range or ''} run {run.run_id[:8]} "
                f"at {run.materialized_at}",
            )
        )
    else:
        out.append(("latest run", "no daily_bars materialization recorded"))
    cache = snap.cache
    if cache is not None:
        ratio = "n/a (no reads yet)" if cache.hit_ratio is None else f"{cache.hit_ratio:.3f}"
        out.append(
            (
                "cache",
                f"hit ratio {ratio} over {cache.reads} reads ({cache.hits} hits, {cache.misses} misses; threshold "
                f"{cache.threshold_hit_ratio} from {cache.min_reads} reads), {cache.keys} symbol(s) cached, "
                f"{cache.backend}",
            )
        )
    else:
        out.append(("cache", f"unavailable: {down.get('cache', 'not measured')}"))
    out += _stream_lines(snap, down)
    if snap.replica is not None:
        out.append(("read replica", snap.replica.sentence()))
    failures = snap.failures
    summary = ", ".join(f"{job} {n}" for job, n in failures.by_job.items()) or "none recorded"
    out.append(("run failures", f"{failures.total} ({summary})"))
    for failure in failures.latest[:3]:
        out.append(("", f"{failure.failed_at} {failure.job_name} ({failure.kind or '-'}): {failure.error}"))
    out.append(("components", ", ".join(f"{c.name} {c.state}" for c in snap.components)))
    for note in snap.notes:
        out.append(("note", note))
    out.append(("status", verdict(snap)))
    return out


def _stream_lines(snap: HealthSnapshot, down: dict[str, str]) -> list[tuple[str, str]]:
    stream = snap.stream
    state = {c.name: c for c in snap.components}.get("stream")
    if state is not None and state.state == "disabled":
        return [("consumer lag", state.detail)]
    if stream is None:
        return [("consumer lag", f"unavailable: {down.get('stream', 'not measured')}")]
    if not stream.groups:
        return [("consumer lag", f"no consumer groups configured (BACKBONE_KAFKA_CONSUMER_GROUPS), {stream.backend}")]
    threshold_s = "" if stream.threshold_lag_s is None else f", {stream.threshold_lag_s:g} s"
    return [
        (
            "consumer lag",
            f"{g.group}: {g.total} total, {g.max_partition} max per partition over {g.partitions} partition(s), "
            f"oldest unconsumed {_wait(g.max_seconds)} (threshold {stream.threshold_lag}{threshold_s}, "
            f"{stream.backend} {stream.topic})",
        )
        for g in stream.groups
    ]


def _wait(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"{seconds:.1f} s"


def console(snap: HealthSnapshot) -> str:
    return "\n".join(f"{label + ':' if label else '':<14}{text}" for label, text in lines(snap))


def markdown(snap: HealthSnapshot) -> str:
    """``status.md``: a heading with the verdict, the figures as a table, then the components."""
    rows = [f"| {label} | {text.replace('|', '/')} |" for label, text in lines(snap) if label not in ("status",)]
    body = [
        "# backbone status",
        "",
        f"Generated {snap.generated_at} on the **{snap.tier}** tier. **{verdict(snap)}**",
        "",
        "| figure | value |",
        "| --- | --- |",
        *rows,
        "",
        "## Components",
        "",
        "| component | state | detail |",
        "| --- | --- | --- |",
        *(f"| {c.name} | {c.state} | {c.detail.replace('|', '/')} |" for c in snap.components),
        "",
        "Machine-readable: `status.json`; Prometheus text: `metrics.prom` (see docs/telemetry.md).",
        "",
    ]
    return "\n".join(body)
