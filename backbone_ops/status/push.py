"""Pushing a health snapshot to a Prometheus Pushgateway (the institutional tier's alternative to scraping).

The Pushgateway overwrites a pushed sample's ``job`` label with the job of its group, and
``backbone_run_failures_total`` is labelled by the failed *Dagster* job. So the snapshot goes in two kinds of
group: everything else under ``job="backbone"``, and each Dagster job's failure count in a group of its own
(``job=<dagster job>``, ``source="backbone_run_failures"``), which keeps ``sum by (job)`` meaning the same as
on the scraped endpoint. Every push is a PUT: it replaces its group, so a figure the snapshot lacks disappears.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import default_handler
from prometheus_client.registry import Collector

from backbone_domain.health import HealthSnapshot
from backbone_ops.status.prometheus import RUN_FAILURES, registry_for

PUSH_JOB = "backbone"
FAILURES_SOURCE = "backbone_run_failures"


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


def push(snap: HealthSnapshot, gateway_url: str, timeout_s: float = 10.0) -> list[str]:
    """PUT the snapshot's groups; returns the grouping keys pushed. Basic-auth credentials in the URL are sent as
    a header, never as part of the address."""
    url, auth = _split_credentials(gateway_url)

    def handler(url: str, method: str, timeout: float | None, headers: list[Any], data: bytes) -> Callable[[], None]:
        return default_handler(url, method, timeout, [*headers, *auth], data)

    def put(job: str, grouping: dict[str, str], registry: CollectorRegistry) -> str:
        push_to_gateway(url, job=job, registry=registry, grouping_key=grouping, timeout=timeout_s, handler=handler)
        return "/".join(f"{k}={v}" for k, v in {"job": job, **grouping}.items())

    pushed = [put(PUSH_JOB, {"tier": snap.tier}, registry_for(lambda: snap, frozenset({RUN_FAILURES})))]
    for job, count in snap.failures.by_job.items():
        family = CounterMetricFamily(RUN_FAILURES, "failed Dagster runs recorded", labels=["tier"])
        family.add_metric([snap.tier], count)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed([family]))
        pushed.append(put(job, {"tier": snap.tier, "source": FAILURES_SOURCE}, registry))
    return pushed


def _split_credentials(url: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    if parts.username is None:
        return url, []
    token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return bare, [("Authorization", f"Basic {token}")]
