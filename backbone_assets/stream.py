"""Stream layer: stored bars mirrored to Kafka (a local log on bootstrap), the consumers' lag, and replays.

The asset and the job only see ``StreamResource``; which backend a tier uses is decided in ``tiers.py``. With
streaming turned off the asset still materializes and says "streaming disabled", so the graph means the same.
"""

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from backbone_assets.changes import changes_metadata, layer_changes
from backbone_assets.ingest import OWNERS
from backbone_assets.jobs import kind_tags
from backbone_assets.partitions import on_store, upstream_dates
from backbone_domain.health import GroupLag, lag_breach
from backbone_domain.streaming import PublishShortfall, prove_publish, publish_changes, publish_range
from backbone_resources.policy import PipelinePolicy
from backbone_resources.source.base import BarSource
from backbone_resources.store.base import BarStore
from backbone_resources.stream.base import PublishReport, StreamResource

KAFKA_REPLAY_JOB = "kafka_replay_job"
STREAM_DISABLED = "streaming disabled"
MESSAGES_DUE = "messages_due"  # what a publish had to deliver; the replay sensor's measure of a gap


def build_stream_assets(
    partitions: dg.DailyPartitionsDefinition, kinds: Mapping[str, set[str]], retry_delay_s: float = 10.0
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        deps=[on_store()],  # the topic holds every stored bar in order: unpartitioned
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="stream",
        kinds=kinds["stream"],
        owners=OWNERS,
        pool="stream",
        # a broker restart or a lost topic: republish after a pause (idempotent: consumers skip older versions)
        retry_policy=dg.RetryPolicy(max_retries=2, delay=retry_delay_s, backoff=dg.Backoff.EXPONENTIAL),
    )
    def daily_bars_kafka(
        context: dg.AssetExecutionContext,
        store: BarStore,
        source: BarSource,
        stream: StreamResource,
        policy: PipelinePolicy,
    ) -> dg.MaterializeResult:
        """The run's stored days published to the daily-bars topic (key = symbol), every delivery confirmed and
        the topic shown to hold them (end offsets, read back when they fall short)."""
        start, end = upstream_dates(context, partitions)
        common = {"date_range": f"{start}..{end}", "stream": stream.describe(), **policy.tier_metadata()}
        if not stream.enabled:
            context.log.info(f"{STREAM_DISABLED}: {start}..{end} not published")
            return dg.MaterializeResult(metadata={"status": STREAM_DISABLED, "messages_delivered": 0, **common})
        topic = stream.ensure_topic()
        if topic.mismatches:
            context.log.warning(f"topic {topic.topic} differs from its configuration: {'; '.join(topic.mismatches)}")
        changes = layer_changes(context, store)
        days = policy.days_per_chunk(len(source.universe()))
        if changes.first_run:
            report = publish_range(stream, store, start, end, "ingest", days)
            due = store.range_counts(start, end).bars
        else:
            report, due = publish_changes(stream, store, changes, days), len(changes.learned)
        try:
            proof = prove_publish(stream, report)  # acknowledged is not enough: the topic must hold them (D6)
        except PublishShortfall as exc:
            # retried by the retry policy: a re-run republishes the range, consumers drop the copies
            raise dg.Failure(str(exc), metadata={**publish_metadata(report), **common}, allow_retries=True) from None
        return dg.MaterializeResult(
            metadata={
                "status": "published",
                **publish_metadata(report),
                **proof.metadata(),
                **changes_metadata(changes),
                MESSAGES_DUE: due,
                "stored_bars": store.range_counts(start, end).bars,
                "topic_created": topic.created,
                "topic_mismatches": list(topic.mismatches),
                **common,
            }
        )

    return [daily_bars_kafka]


def publish_metadata(report: PublishReport) -> dict[str, object]:
    return {
        "messages_delivered": report.delivered,
        "bytes": report.bytes,
        "partition_offsets": {str(p): {"first": f, "last": last} for p, (f, last) in sorted(report.offsets.items())},
    }


def build_stream_checks() -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="daily_bars_kafka",
        pool="stream",
        description="Consumer lag per group: messages (end offset - committed) and seconds (oldest unconsumed).",
    )
    def kafka_consumer_lag(stream: StreamResource) -> dg.AssetCheckResult:
        if not stream.enabled:
            return dg.AssetCheckResult(passed=True, description=STREAM_DISABLED, metadata={"status": STREAM_DISABLED})
        now = dt.datetime.now(dt.UTC)
        per_group = {group: stream.lag(group) for group in stream.consumer_groups}
        groups = [GroupLag.measure(group, parts, now) for group, parts in per_group.items()]
        # the rule `backbone status` applies too, sentence and all
        breaches = [b for b in (lag_breach(g, stream.lag_warn, stream.lag_warn_s) for g in groups) if b]
        if not stream.consumer_groups:
            description = "no consumer groups configured (BACKBONE_KAFKA_CONSUMER_GROUPS)"
        else:
            description = "; ".join(breaches) or None
        waits = [g.max_seconds for g in groups if g.max_seconds is not None]
        return dg.AssetCheckResult(
            passed=not breaches,
            severity=dg.AssetCheckSeverity.WARN,
            description=description,
            metadata={
                "max_group_lag": max((g.total for g in groups), default=0),
                "groups_over_threshold": len(breaches),
                "total_lag": sum(g.total for g in groups),
                "max_partition_lag": max((g.max_partition for g in groups), default=0),
                # no sentinel when unknown: a -1 would plot as a real wait
                **({"max_lag_seconds": round(max(waits), 3)} if waits else {}),
                "threshold": stream.lag_warn,
                "threshold_seconds": stream.lag_warn_s,
                "groups": len(per_group),
                "lag_by_group": {
                    group: {
                        str(p.partition): {
                            "end": p.end_offset,
                            "committed": p.committed,
                            "lag": p.lag,
                            "lag_seconds": None if f.seconds is None else round(f.seconds, 3),
                        }
                        for p, f in zip(parts, g.by_partition, strict=True)
                    }
                    for (group, parts), g in zip(per_group.items(), groups, strict=True)
                },
            },
        )

    return [kafka_consumer_lag]


class ReplayConfig(dg.Config):
    start: str  # YYYY-MM-DD, inclusive
    end: str
    symbols: list[str] = []


@dg.op(
    pool="stream",  # shares the producers' limit with daily_bars_kafka
    description="Republish stored bars of [start, end] with origin=replay, per-symbol order, delivery confirmed.",
)
def replay_bars(
    context: dg.OpExecutionContext,
    config: ReplayConfig,
    store: BarStore,
    source: BarSource,
    stream: StreamResource,
    policy: PipelinePolicy,
) -> dg.Output[int]:
    start, end = dt.date.fromisoformat(config.start), dt.date.fromisoformat(config.end)
    if not stream.enabled:
        raise dg.Failure(description=f"{STREAM_DISABLED}: nothing to replay to")
    stream.ensure_topic()
    days = policy.days_per_chunk(len(config.symbols or source.universe()))
    report = publish_range(stream, store, start, end, "replay", days, config.symbols or None)
    context.log.info(f"replayed {report.delivered} bars of {start}..{end} to {stream.describe()['topic']}")
    return dg.Output(
        report.delivered,
        metadata={**publish_metadata(report), "date_range": f"{start}..{end}", "symbols": config.symbols},
    )


@dg.job(
    name=KAFKA_REPLAY_JOB,
    tags=kind_tags("replay"),  # every replay run, from the sensor, the CLI or the UI: the run queue limits them
    description="Republish stored bars from the time-series store (origin=replay).",
)
def kafka_replay_job() -> None:
    replay_bars()
