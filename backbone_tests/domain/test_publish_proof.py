"""The publish proof's rule: the topic holds, per partition, at least what a publish delivered (issue 13, D6)."""

from __future__ import annotations

import pytest

from backbone_domain.streaming import PublishProof, PublishShortfall, prove_publish
from backbone_resources.stream.base import PublishReport


def test_offsets_added_since_before_cover_what_was_delivered():
    proof = PublishProof(6, before={0: 10, 1: 4}, after={0: 13, 1: 7})
    assert (proof.holds, proof.verified, proof.complete) == (6, 6, True)


def test_another_producer_writing_too_still_proves_the_publish():
    proof = PublishProof(6, before={0: 10, 1: 4}, after={0: 20, 1: 9})
    assert (proof.holds, proof.verified, proof.complete) == (15, 6, True)


def test_a_topic_gone_holds_nothing():
    proof = PublishProof(77_999, before={0: 0, 1: 0, 2: 0}, after={})
    assert (proof.holds, proof.verified, proof.complete) == (0, 0, False)
    assert "delivered 77999, topic holds 0" in proof.describe()
    assert "0: 0->-" in proof.describe()


def test_a_recreated_empty_topic_holds_nothing():
    # end offsets below where they were: the partitions restarted from 0
    proof = PublishProof(50, before={0: 300, 1: 200}, after={0: 0, 1: 0})
    assert (proof.holds, proof.complete) == (0, False)


def test_a_recreated_topic_counts_what_the_new_partitions_hold():
    proof = PublishProof(50, before={0: 300, 1: 200}, after={0: 20, 1: 230})
    assert (proof.holds, proof.verified, proof.complete) == (50, 50, True)


def test_a_partial_topic_is_a_shortfall():
    proof = PublishProof(10, before={0: 0, 1: 0, 2: 0}, after={0: 4, 1: 3})
    assert (proof.holds, proof.verified, proof.complete) == (7, 7, False)
    assert proof.metadata() == {
        "messages_verified": 7,
        "verified_by": "offsets",
        "end_offsets_before": {"0": 0, "1": 0, "2": 0},
        "end_offsets_after": {"0": 4, "1": 3},
    }


def test_nothing_delivered_needs_nothing_on_the_topic():
    assert PublishProof(0, before={}, after={}).complete


class _Ends:
    """A stream whose reported end offsets may lag the records it holds (read back shows them)."""

    topic = "t"

    def __init__(self, reported: dict[int, int], read: dict[int, int]) -> None:
        self.reported, self.read, self.calls = reported, read, []

    def end_offsets(self, read_back: bool = False) -> dict[int, int]:
        self.calls.append(read_back)
        return self.read if read_back else self.reported


def _report(delivered: int, before: dict[int, int]) -> PublishReport:
    return PublishReport(delivered=delivered, end_before=before)


def test_exact_offsets_prove_it_without_reading_back():
    stream = _Ends({0: 5, 1: 5}, {})
    proof = prove_publish(stream, _report(10, {0: 0, 1: 0}))  # type: ignore[arg-type]
    assert (proof.method, stream.calls) == ("offsets", [False])


def test_offsets_falling_short_are_read_back_before_failing():
    stream = _Ends({0: 1, 1: 1}, {0: 5, 1: 5})  # one record per batch counted, as some brokers report
    proof = prove_publish(stream, _report(10, {0: 0, 1: 0}))  # type: ignore[arg-type]
    assert (proof.method, proof.verified, stream.calls) == ("read back", 10, [False, True])


def test_a_shortfall_the_records_confirm_fails_naming_the_figures():
    stream = _Ends({0: 1}, {0: 3})
    with pytest.raises(PublishShortfall, match=r"delivered 10, topic holds 3 \(by read back\).*0: 0->3"):
        prove_publish(stream, _report(10, {0: 0}))  # type: ignore[arg-type]
