"""Measures a health snapshot from the configured tier: the same figures the asset checks judge, read the same way.

Each resource family is built and asked on its own, so one that is down (Redis stopped, broker unreachable)
costs only its own figures: the snapshot records it as unavailable with the reason (passwords redacted) and
carries on. Nothing here moves state: the cache's cumulative counters are read, never its check window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from backbone_assets.partitions import daily_partitions, last_partition_date
from backbone_domain.freshness import symbol_lags
from backbone_domain.health import (
    CacheFigures,
    Component,
    Freshness,
    GroupLag,
    HealthSnapshot,
    LatestRun,
    SourceAgreement,
    StreamFigures,
    read_run_failures,
    summarize_freshness,
)
from backbone_domain.replica_lag import ReplicaLag
from backbone_ops import runner, secrets
from backbone_ops.resources import tier_resources
from backbone_resources.settings import BackboneSettings, SettingsError
from backbone_resources.tiers import build_batch
from backbone_resources.unavailable import BackendUnavailable, BatchUnavailable

RUN_FAILURES = Path("telemetry") / "run_failures.jsonl"
PROBE_GROUP = "backbone-status-probe"  # never commits: asking its lag only proves the broker answers


def run_failures_path(settings: BackboneSettings) -> Path:
    return settings.home / RUN_FAILURES


def redact(text: str, settings: BackboneSettings) -> str:
    """One line, every password masked and every configured secret removed, whatever raised it."""
    return secrets.redact(" ".join(str(text).split()), settings)


def _reason(exc: Exception) -> str:
    """Our own errors already name the setting to look at; anything else gets its type for a clue."""
    if isinstance(exc, SettingsError | BackendUnavailable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def measure(
    settings: BackboneSettings, now: dt.datetime | None = None, instance: dg.DagsterInstance | None = None
) -> HealthSnapshot:
    """Every figure `backbone status` reports, each family tried independently. ``instance``: the Dagster
    instance whose runs to read (a sensor's own); default the settings' (``runner.instance``)."""
    choice = settings.tier()
    notes: list[str] = []
    components: list[Component] = []
    as_of = last_partition_date(daily_partitions(settings.start_date, settings.today))

    def attempt(name: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - status must report any failure and still write its files
            components.append(Component(name, "unavailable", redact(_reason(exc), settings)))
            return None

    store_figures = attempt("store", lambda: _store(settings, as_of, components, notes))
    cache = attempt("cache", lambda: _cache(settings, components))
    stream = attempt("stream", lambda: _stream(settings, components, now))
    attempt("batch", lambda: _batch(settings, components))
    order = {name: i for i, name in enumerate(("store", "cache", "stream", "batch"))}
    components.sort(key=lambda c: order[c.name])
    freshness, bars, agreement, replica = store_figures or (None, None, None, None)
    # milliseconds: health events are versioned by this stamp, and two may be measured within one second
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return HealthSnapshot(
        tier=choice.tier,
        tier_reason=choice.reason,
        generated_at=stamp.isoformat(timespec="milliseconds"),
        components=components,
        freshness=freshness,
        bars_stored=bars,
        source=agreement,
        latest_run=_latest_run(settings, notes, instance),
        cache=cache,
        stream=stream,
        replica=replica,
        failures=read_run_failures(run_failures_path(settings)),
        notes=notes,
    )


def _store(
    settings: BackboneSettings, as_of: dt.date, components: list[Component], notes: list[str]
) -> tuple[Freshness, int, SourceAgreement, ReplicaLag | None]:
    """Freshness exactly as ``daily_bars_fresh`` computes it (``symbol_lags`` over the source's universe), and
    the read replica's lag when the store reads from one."""
    with tier_resources(settings, "store") as built:
        store = built.store
        store.ping()
        described = store.describe()
        latest = store.latest_bar_dates()
        bars = store.range_counts(settings.start_date, as_of).bars
        agreement = SourceAgreement(store.quality_counts().kept_over_source, len(store.read_quarantined_files()))
        replica = store.replica_lag()
    components.append(Component("store", "up", f"{described['backend']} {described.get('endpoint', '')}".strip()))
    try:
        with tier_resources(settings, "source") as built:
            universe = list(built.source.universe())
    except Exception as exc:  # noqa: BLE001 - the stored symbols still give a lag
        notes.append(f"source universe unreadable ({redact(str(exc), settings)}): lag over the stored symbols")
        universe = list(latest)
    lags = symbol_lags(latest, universe, as_of)
    return summarize_freshness(lags, settings.freshness_max_lag_days, as_of), bars, agreement, replica


def _cache(settings: BackboneSettings, components: list[Component]) -> CacheFigures:
    with tier_resources(settings, "cache") as built:
        cache = built.cache
        stats = cache.stats()
        figures = CacheFigures(
            stats.backend, stats.hits, stats.misses, stats.keys, cache.hit_ratio_warn, cache.min_reads
        )
        described = cache.describe()
    components.append(Component("cache", "up", f"{stats.backend} {described.get('endpoint', '')}".strip()))
    return figures


def _stream(
    settings: BackboneSettings, components: list[Component], now: dt.datetime | None = None
) -> StreamFigures | None:
    """Lag per configured group as ``kafka_consumer_lag`` measures it; with no group, a probe group's lag only
    shows whether the broker answers."""
    with tier_resources(settings, "stream") as built:
        stream = built.stream
        if not stream.enabled:
            components.append(Component("stream", "disabled", "streaming disabled (BACKBONE_STREAMING_ENABLED=false)"))
            return None
        described = stream.describe()
        at = now or dt.datetime.now(dt.UTC)
        groups = [GroupLag.measure(group, stream.lag(group), at) for group in stream.consumer_groups]
        if not groups:
            stream.lag(PROBE_GROUP)
        endpoint = described.get("bootstrap") or described.get("path", "")
    components.append(Component("stream", "up", f"{described['backend']} {endpoint}".strip()))
    return StreamFigures(described["backend"], described.get("topic"), stream.lag_warn, groups, stream.lag_warn_s)


def _batch(settings: BackboneSettings, components: list[Component]) -> None:
    """The engine's own probe: cheap, never a Spark session (10 s and 600 MB)."""
    probe = build_batch(settings).probe()
    if not probe.up:
        raise BatchUnavailable(probe.detail)
    components.append(Component("batch", "up", f"{probe.backend} {probe.detail}"))


def _latest_run(
    settings: BackboneSettings, notes: list[str], given: dg.DagsterInstance | None = None
) -> LatestRun | None:
    """The newest ``daily_bars`` materialization in the Dagster instance: a range run records the run's totals
    on its last partition, which is stored last (``partitions.range_result``)."""
    try:
        if given is not None:
            event = given.get_latest_materialization_event(dg.AssetKey("daily_bars"))
        else:
            with runner.instance(settings) as inst:
                event = inst.get_latest_materialization_event(dg.AssetKey("daily_bars"))
    except Exception as exc:  # noqa: BLE001 - an unreadable instance costs this figure only
        notes.append(f"Dagster instance unreadable: {redact(str(exc), settings)}")
        return None
    if event is None or event.asset_materialization is None:
        return None
    metadata = {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}
    return LatestRun(
        run_id=event.run_id,
        materialized_at=dt.datetime.fromtimestamp(event.timestamp, dt.UTC).replace(microsecond=0).isoformat(),
        date_range=metadata.get("date_range"),
        rows_accepted=int(metadata.get("rows_accepted", 0)),
        rows_rejected=int(metadata.get("rows_rejected", 0)),
        threshold_rejected_rate=settings.rejected_rate_warn,
    )
