"""The session replay behind `backbone stream intraday`: each bar published once its interval has closed on a
clock running N times real time, never early, symbols in order within a moment, and a stop between batches."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable

import pytest

from backbone_domain.intraday_messages import IntradayBar
from backbone_domain.intraday_replay import ReplayReport, SessionReplay, session_bars
from backbone_domain.message_batch import MessageBatch
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.stream.base import PublishReport

OPEN = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)


def _bars(symbols: tuple[str, ...] = ("MSFT", "AAPL", "SPY"), minutes: int = 10) -> list[IntradayBar]:
    return [
        IntradayBar(
            symbol=s,
            ts=OPEN + dt.timedelta(minutes=m),
            interval_s=60,
            session=OPEN.date(),
            open=1.0,
            high=1.0,
            low=1.0,
            close=1.0,
            volume=1.0,
            source="test",
            ingested_at=OPEN + dt.timedelta(minutes=m + 1),
            origin="replay",
        )
        for s in symbols
        for m in range(minutes)
    ]


class _Recorder:
    """A stream that notes when each batch reached it; ``after`` is called with the count of batches so far."""

    def __init__(self, after=lambda n: None) -> None:
        self.batches: list[tuple[float, list[dict]]] = []
        self.after = after

    def ensure_topic(self) -> None:
        pass

    def publish(self, batches: Iterable[MessageBatch]) -> PublishReport:
        report = PublishReport()
        for batch in batches:
            self.batches.append((time.monotonic(), [json.loads(v) for v in batch.values]))
            report.delivered += len(batch)
            self.after(len(self.batches))
        return report


def test_bars_go_out_when_they_close_on_the_replay_clock_never_early():
    stream = _Recorder()
    started = time.monotonic()
    report = SessionReplay(_bars(), speed=600).run(stream)  # a minute bar every 0.1 s: 1 s in all
    assert (report.delivered, report.sent, report.total, report.stopped_by) == (30, 30, 30, None)
    for at, docs in stream.batches:
        closes = {dt.datetime.fromisoformat(d["ingested_at"]) for d in docs}
        due_s = (max(closes) - OPEN).total_seconds() / 600
        assert at - started >= due_s - 0.01  # not before its close on the replay clock
    sent = [(d["ts"], d["symbol"]) for _, docs in stream.batches for d in docs]
    assert sent == sorted(sent)  # by close, then symbol: every symbol in time order
    assert len(stream.batches) >= 5  # paced, not one burst
    assert report.reached == OPEN + dt.timedelta(minutes=10)


def test_an_infinite_speed_publishes_the_whole_session_at_once():
    stream = _Recorder()
    report = SessionReplay(_bars(), speed=float("inf")).run(stream)
    assert report.delivered == 30
    assert len(stream.batches) == 1


def test_stop_ends_the_replay_between_batches_and_reports_what_went_out():
    progress: list[ReplayReport] = []
    replay = SessionReplay(_bars(), speed=600, progress=lambda r: progress.append(r), progress_every_s=0.05)
    stream = _Recorder(after=lambda n: replay.stop() if n == 3 else None)
    report = replay.run(stream)
    assert len(stream.batches) == 3
    assert report.stopped_by == "stop()"
    assert report.sent == report.delivered == sum(len(docs) for _, docs in stream.batches) < 30
    assert progress


def test_session_bars_close_at_the_interval_end_or_the_session_close():
    frame = SyntheticSource(symbols=["AAPL"]).fetch_intraday(dt.date(2024, 1, 2), interval_minutes=60)
    bars = session_bars(frame)
    assert [b.ingested_at - b.ts for b in bars] == [dt.timedelta(hours=1)] * 6 + [dt.timedelta(minutes=30)]
    assert bars[-1].ingested_at == dt.datetime(2024, 1, 2, 21, 0, tzinfo=dt.UTC)  # 16:00 New York


def test_a_speed_must_be_positive():
    with pytest.raises(ValueError, match="speed must be positive"):
        SessionReplay(_bars(), speed=0)
