"""Prometheus export of a health snapshot: a textfile (bootstrap), an HTTP endpoint or a Pushgateway (institutional).

The metric names are fixed (see docs/telemetry.md); every sample carries ``tier``. A figure that could not be
measured is left out rather than exported as 0, so a dashboard never shows an outage as "no lag"; the
component's ``backbone_up`` is 0 instead. The collector renders whatever snapshot its ``source`` returns, so the
same code serves a one-shot textfile and a long-running endpoint that re-measures on scrape; the Pushgateway
variant is in ``push``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, start_http_server, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from backbone_domain.health import HealthSnapshot

RUN_FAILURES = "backbone_run_failures"  # family name; exposed as backbone_run_failures_total


def _seconds(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def snapshot_metrics(snap: HealthSnapshot) -> list[Metric]:
    """The metric families of one snapshot (only the figures it has)."""
    tier = snap.tier

    def gauge(name: str, doc: str, value: float | None) -> list[Metric]:
        if value is None:
            return []
        family = GaugeMetricFamily(name, doc, labels=["tier"])
        family.add_metric([tier], value)
        return [family]

    up = GaugeMetricFamily(
        "backbone_up", "1 when the component answered, 0 when unavailable", labels=["tier", "component"]
    )
    for component in snap.components:
        if component.state != "disabled":  # switched off on purpose: neither up nor down
            up.add_metric([tier, component.name], 1.0 if component.state == "up" else 0.0)
    out: list[Metric] = [up]
    fresh, run, cache = snap.freshness, snap.latest_run, snap.cache
    out += gauge(
        "backbone_freshness_lag_days",
        "trading days the stalest symbol's newest bar lags the last expected trading day",
        None if fresh is None else fresh.max_lag_days,
    )
    out += gauge(
        "backbone_last_bar_timestamp_seconds",
        "UTC midnight of the newest stored bar (any symbol), Unix seconds",
        None if fresh is None or fresh.newest_bar is None else _seconds(fresh.newest_bar + "T00:00:00+00:00"),
    )
    out += gauge("backbone_bars_stored", "daily bars in the store", snap.bars_stored)
    out += gauge(
        "backbone_rows_ingested",
        "rows the latest daily_bars run read (accepted + rejected)",
        None if run is None else run.rows_ingested,
    )
    out += gauge(
        "backbone_rejected_rate",
        "rejected share of the latest daily_bars run",
        None if run is None else run.rejected_rate,
    )
    out += gauge(
        "backbone_cache_hit_ratio",
        "hot-cache hits / reads since the namespace began",
        None if cache is None else cache.hit_ratio,
    )
    if snap.stream is not None and snap.stream.groups:
        total = GaugeMetricFamily(
            "backbone_consumer_lag_messages", "consumer lag, all partitions", labels=["tier", "group"]
        )
        worst = GaugeMetricFamily(
            "backbone_consumer_lag_max_messages", "consumer lag of the worst partition", labels=["tier", "group"]
        )
        waited = GaugeMetricFamily(
            "backbone_consumer_lag_seconds",
            "seconds the group's oldest unconsumed message has waited since it was published (worst partition)",
            labels=["tier", "group"],
        )
        for group in snap.stream.groups:
            total.add_metric([tier, group.group], group.total)
            worst.add_metric([tier, group.group], group.max_partition)
            if group.max_seconds is not None:  # unknown is left out, never 0
                waited.add_metric([tier, group.group], group.max_seconds)
        out += [total, worst, waited]
    replica = snap.replica
    out += gauge(
        "backbone_replica_lag_bytes",
        "WAL bytes the store's read replica has not replayed yet (primary write position - replica replay position)",
        None if replica is None else replica.bytes_behind,
    )
    out += gauge(
        "backbone_replica_lag_seconds",
        "0 when the read replica is caught up, else seconds since the last transaction it replayed committed",
        None if replica is None else replica.seconds,
    )
    failures = CounterMetricFamily("backbone_run_failures", "failed Dagster runs recorded", labels=["tier", "job"])
    for job, count in snap.failures.by_job.items():
        failures.add_metric([tier, job], count)
    out.append(failures)
    out += gauge(
        "backbone_status_generated_timestamp_seconds", "when the snapshot was taken", _seconds(snap.generated_at)
    )
    return out


class SnapshotCollector(Collector):
    """Renders ``source()`` on each collection; ``source`` decides whether that is a fixed or a fresh snapshot."""

    def __init__(self, source: Callable[[], HealthSnapshot], skip: frozenset[str] = frozenset()) -> None:
        self._source, self._skip = source, skip

    def collect(self) -> Iterator[Metric]:
        yield from (m for m in snapshot_metrics(self._source()) if m.name not in self._skip)


def registry_for(source: Callable[[], HealthSnapshot], skip: frozenset[str] = frozenset()) -> CollectorRegistry:
    """A registry of the snapshot's families, less the ``skip`` ones (by family name, e.g. for a push)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(source, skip))
    return registry


def render_text(snap: HealthSnapshot) -> str:
    """The Prometheus text exposition of one snapshot."""
    return generate_latest(registry_for(lambda: snap)).decode()


def write_textfile(snap: HealthSnapshot, path: str) -> None:
    """Atomic write (temp file + rename) for node_exporter's textfile collector: it never reads half a file."""
    write_to_textfile(path, registry_for(lambda: snap))


class RefreshingSource:
    """A snapshot re-measured at most every ``min_interval_s``: scrapes faster than that get the cached one, so a
    busy Prometheus cannot turn the endpoint into a load test of the store."""

    def __init__(self, measure: Callable[[], HealthSnapshot], min_interval_s: float, first: HealthSnapshot) -> None:
        self._measure, self._interval = measure, min_interval_s
        self._snap, self._at = first, time.monotonic()
        self._lock = threading.Lock()

    def __call__(self) -> HealthSnapshot:
        with self._lock:
            if time.monotonic() - self._at >= self._interval:
                self._snap, self._at = self._measure(), time.monotonic()
            return self._snap


def serve(source: Callable[[], HealthSnapshot], port: int, addr: str) -> Callable[[], None]:
    """Start the /metrics endpoint in a background thread; returns the function that stops it."""
    server, thread = start_http_server(port, addr=addr, registry=registry_for(source))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
