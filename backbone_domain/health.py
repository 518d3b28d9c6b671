"""The health snapshot `backbone status` writes: plain figures, no Dagster, no clients.

One model, several renderers (markdown and Prometheus text in ``backbone_ops.status``, JSON here), so
the console, ``status.json``, ``status.md`` and ``metrics.prom`` can never disagree. A figure that could not be
measured is ``None`` and its component carries the reason; thresholds travel with the figures they judge, so a
reader of the snapshot needs no settings to tell a breach.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from backbone_domain import source_truth
from backbone_domain.freshness import SymbolLag
from backbone_domain.replica_lag import ReplicaLag

COMPONENTS = ("store", "cache", "stream", "batch")
State = Literal["up", "unavailable", "disabled"]


@dataclass(frozen=True)
class Component:
    """Whether a resource family answered; ``detail`` is the backend when up, the redacted reason when not."""

    name: str
    state: State
    detail: str = ""


@dataclass(frozen=True)
class Freshness:
    as_of: str  # the newest complete day (last partition)
    newest_bar: str | None  # newest stored bar over every symbol
    max_lag_days: int | None  # the worst symbol's lag in trading days; None when no symbol has a bar
    threshold_lag_days: int
    symbols: int
    stale_symbols: list[str]  # over the threshold, or without any bar

    @property
    def breached(self) -> bool:
        return bool(self.stale_symbols)


@dataclass(frozen=True)
class LatestRun:
    """Figures of the newest ``daily_bars`` materialization (one run may cover a whole range)."""

    run_id: str
    materialized_at: str
    date_range: str | None
    rows_accepted: int
    rows_rejected: int
    threshold_rejected_rate: float

    @property
    def rows_ingested(self) -> int:
        """Rows the source returned: accepted plus quarantined (nothing is dropped)."""
        return self.rows_accepted + self.rows_rejected

    @property
    def rejected_rate(self) -> float:
        return self.rows_rejected / self.rows_ingested if self.rows_ingested else 0.0

    @property
    def breached(self) -> bool:
        return self.rejected_rate > self.threshold_rejected_rate


@dataclass(frozen=True)
class CacheFigures:
    """Cumulative hits and misses of the namespace (every process), not the check's window: reading them here
    must not move the window ``hot_cache_hit_ratio`` judges."""

    backend: str
    hits: int
    misses: int
    keys: int
    threshold_hit_ratio: float
    min_reads: int

    @property
    def reads(self) -> int:
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float | None:
        return self.hits / self.reads if self.reads else None

    @property
    def breached(self) -> bool:
        return not hit_ratio_verdict(self, self.threshold_hit_ratio, self.min_reads).passed


class Reads(Protocol):
    """Counted cache reads: a check's window (``CacheWindow``) or a namespace's totals (``CacheFigures``)."""

    @property
    def hits(self) -> int: ...
    @property
    def misses(self) -> int: ...


@dataclass(frozen=True)
class Verdict:
    passed: bool
    description: str
    hit_ratio: float | None


def hit_ratio_verdict(reads: Reads, threshold: float, min_reads: int) -> Verdict:
    """The hit-ratio rule, for the ``hot_cache_hit_ratio`` check and ``backbone status`` alike: too few reads
    say so instead of a ratio that would mean nothing; otherwise a ratio below ``threshold`` fails."""
    total = reads.hits + reads.misses
    if total == 0 or total < min_reads:
        return Verdict(True, f"not enough reads: {total} since the previous check (< {min_reads})", None)
    ratio = reads.hits / total
    if ratio < threshold:
        return Verdict(False, f"hit ratio {ratio:.3f} below {threshold} over {total} reads", ratio)
    return Verdict(True, f"hit ratio {ratio:.3f} over {total} reads", ratio)


class UnconsumedPartition(Protocol):
    """A partition's lag as a stream reports it (``stream.base.PartitionLag``): messages behind, and the event
    time of the oldest message the group has not consumed (None when it is caught up or the time is unknown)."""

    @property
    def partition(self) -> int: ...
    @property
    def lag(self) -> int: ...
    @property
    def oldest_unconsumed_at(self) -> dt.datetime | None: ...


@dataclass(frozen=True)
class PartitionLagFigures:
    partition: int
    messages: int
    seconds: float | None  # now - event time of the oldest unconsumed message; 0 when caught up; None unknown


def lag_seconds(oldest_unconsumed_at: dt.datetime | None, messages: int, now: dt.datetime) -> float | None:
    """How long the oldest unconsumed message has waited: ``now`` - its event time (the time it was published,
    never the bar's trading date, so a replay of 2019 bars reads as seconds, not years). A caught-up partition
    waits 0; a backlog whose time is unknown (a record written before the log kept times) is None, not 0: an
    unknown must not read as "no lag". A clock behind the producer's gives 0, never a negative wait."""
    if messages <= 0:
        return 0.0
    if oldest_unconsumed_at is None:
        return None
    return max(0.0, (now - oldest_unconsumed_at).total_seconds())


@dataclass(frozen=True)
class GroupLag:
    group: str
    total: int
    max_partition: int
    partitions: int
    max_seconds: float | None = None  # the worst partition's wait that could be read; None when none could
    by_partition: list[PartitionLagFigures] = field(default_factory=list)

    @classmethod
    def of(cls, group: str, partition_lags: Sequence[int]) -> GroupLag:
        """A group's lag from its partitions' lags (end offset - committed, each), in messages only."""
        return cls(group, sum(partition_lags), max(partition_lags, default=0), len(partition_lags))

    @classmethod
    def measure(cls, group: str, partitions: Sequence[UnconsumedPartition], now: dt.datetime) -> GroupLag:
        """A group's lag in messages and seconds from its partitions, as the check and ``backbone status`` read
        it (one function, so they cannot drift). The group waits as long as its worst partition."""
        figures = [
            PartitionLagFigures(p.partition, p.lag, lag_seconds(p.oldest_unconsumed_at, p.lag, now)) for p in partitions
        ]
        known = [f.seconds for f in figures if f.seconds is not None]
        # the worst wait read; None only when no partition's could be read (an unknown is never a 0)
        worst = max(known) if known else (0.0 if not figures else None)
        lags = [f.messages for f in figures]
        return cls(group, sum(lags), max(lags, default=0), len(lags), worst, figures)


def lag_breach(group: GroupLag, threshold: int, threshold_s: float | None = None) -> str | None:
    """The consumer-lag rule, for the asset check and ``backbone status`` alike: a group breaches when its total
    lag exceeds ``threshold`` messages (BACKBONE_KAFKA_LAG_WARN) or its oldest unconsumed message has waited
    longer than ``threshold_s`` seconds (BACKBONE_KAFKA_LAG_WARN_S). Returns the sentence naming the breach,
    None when within both. A wait that could not be measured breaches nothing: its messages still count."""
    reasons = []
    if group.total > threshold:
        reasons.append(f"{group.total} > {threshold} messages")
    if threshold_s is not None and group.max_seconds is not None and group.max_seconds > threshold_s:
        reasons.append(f"{group.max_seconds:.0f} s > {threshold_s:g} s")
    return f"{group.group} lags {' and '.join(reasons)}" if reasons else None


def lagging_groups(groups: Sequence[GroupLag], threshold: int, threshold_s: float | None = None) -> list[GroupLag]:
    """The groups ``lag_breach`` names. Each group is judged alone (as Burrow does): lags are never summed
    across groups, so two healthy groups do not make an unhealthy topic."""
    return [g for g in groups if lag_breach(g, threshold, threshold_s)]


@dataclass(frozen=True)
class StreamFigures:
    backend: str
    topic: str | None
    threshold_lag: int
    groups: list[GroupLag] = field(default_factory=list)
    threshold_lag_s: float | None = None

    @property
    def breached_groups(self) -> list[str]:
        return [g.group for g in lagging_groups(self.groups, self.threshold_lag, self.threshold_lag_s)]

    def breaches(self) -> list[str]:
        found = (lag_breach(g, self.threshold_lag, self.threshold_lag_s) for g in self.groups)
        return [f"consumer group {sentence}" for sentence in found if sentence]


@dataclass(frozen=True)
class Failure:
    run_id: str
    job_name: str
    failed_at: str
    kind: str | None
    error: str


@dataclass(frozen=True)
class RunFailures:
    by_job: dict[str, int]
    latest: list[Failure]  # newest first, a few
    unreadable_lines: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_job.values())


@dataclass(frozen=True)
class SourceAgreement:
    """Whether the store serves what the source says (``source_truth``) and reads every file it holds."""

    stored_values_kept_over_source: int
    quarantined_files: int

    def breaches(self) -> list[str]:
        agrees, description = source_truth.verdict(self.stored_values_kept_over_source)
        out = [] if agrees else [description]
        if self.quarantined_files:
            out.append(f"{self.quarantined_files} source file(s) quarantined whole (`backbone rejected` lists them)")
        return out


@dataclass(frozen=True)
class HealthSnapshot:
    tier: str
    tier_reason: str
    generated_at: str  # ISO-8601 UTC
    components: list[Component]
    freshness: Freshness | None = None
    bars_stored: int | None = None
    source: SourceAgreement | None = None
    latest_run: LatestRun | None = None
    cache: CacheFigures | None = None
    stream: StreamFigures | None = None
    replica: ReplicaLag | None = None  # the store's read replica; None when reads have none
    failures: RunFailures = field(default_factory=lambda: RunFailures({}, []))
    notes: list[str] = field(default_factory=list)  # figures that could not be read, and why

    def unavailable(self) -> list[Component]:
        return [c for c in self.components if c.state == "unavailable"]

    @property
    def identity(self) -> tuple[str]:
        """A snapshot describes its tier's state: the bridge's version filter keeps, per tier, only snapshots
        newer than the newest handled (a copy, or an older one redelivered late, is stale news)."""
        return (self.tier,)

    @property
    def ingested_at(self) -> dt.datetime:
        """The version the bridge's filter compares: when the snapshot was measured."""
        return dt.datetime.fromisoformat(self.generated_at)

    def breaches(self) -> list[str]:
        """Each figure beyond its threshold, as a sentence; empty when everything is within bounds."""
        out = []
        if self.freshness and self.freshness.breached:
            f = self.freshness
            out.append(f"stale: {', '.join(f.stale_symbols)} (lag > {f.threshold_lag_days} trading day(s))")
        if self.source:
            out += self.source.breaches()
        if self.latest_run and self.latest_run.breached:
            r = self.latest_run
            out.append(f"rejected rate {r.rejected_rate:.4f} > {r.threshold_rejected_rate}")
        if self.cache and self.cache.breached:
            out.append(f"cache hit ratio {self.cache.hit_ratio:.3f} < {self.cache.threshold_hit_ratio}")
        if self.stream:
            out += self.stream.breaches()
        if self.replica:
            out += self.replica.breaches()
        return out

    @property
    def healthy(self) -> bool:
        return not self.unavailable() and not self.breaches()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: the dataclasses plus the derived figures, so consumers need not recompute them."""
        doc = asdict(self)
        if self.latest_run:
            doc["latest_run"] |= {"rows_ingested": self.latest_run.rows_ingested}
            doc["latest_run"]["rejected_rate"] = round(self.latest_run.rejected_rate, 6)
        if self.cache:
            ratio = self.cache.hit_ratio
            doc["cache"] |= {"reads": self.cache.reads, "hit_ratio": None if ratio is None else round(ratio, 6)}
        doc["failures"]["total"] = self.failures.total
        doc["unavailable"] = [c.name for c in self.unavailable()]
        doc["breaches"] = self.breaches()
        doc["healthy"] = self.healthy
        return doc


def to_json(snapshot: HealthSnapshot) -> str:
    return json.dumps(snapshot.to_dict(), indent=2, sort_keys=False)


def summarize_freshness(lags: Sequence[SymbolLag], threshold: int, as_of: dt.date) -> Freshness:
    """The worst lag over the universe; a symbol without any bar counts as stale (same rule as the check)."""
    known = [lag.lag_days for lag in lags if lag.lag_days is not None]
    newest = max((lag.latest for lag in lags if lag.latest is not None), default=None)
    return Freshness(
        as_of=as_of.isoformat(),
        newest_bar=None if newest is None else newest.isoformat(),
        max_lag_days=max(known) if known else None,
        threshold_lag_days=threshold,
        symbols=len(lags),
        stale_symbols=[lag.symbol for lag in lags if not lag.within(threshold)],
    )


def read_run_failures(path: Path, keep_latest: int = 5) -> RunFailures:
    """Failed runs from the run-failure sensor's JSONL file. A missing file is no failures; a line that is not
    a JSON object (a torn write) is counted, not fatal: status must still report."""
    if not path.exists():
        return RunFailures({}, [])
    by_job: Counter[str] = Counter()
    failures: list[Failure] = []
    bad = 0
    for line in _lines(path):
        try:
            row = json.loads(line)
            failure = Failure(
                run_id=str(row["run_id"]),
                job_name=str(row.get("job_name") or "?"),
                failed_at=str(row.get("failed_at") or ""),
                kind=row.get("kind"),
                error=str(row.get("error") or ""),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            bad += 1
            continue
        by_job[failure.job_name] += 1
        failures.append(failure)
    failures.sort(key=lambda f: f.failed_at, reverse=True)
    return RunFailures(dict(sorted(by_job.items())), failures[:keep_latest], bad)


def _lines(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                yield line
