"""The rule behind retention_audit's per-layer flag, without a store: a layer's version the store has neither
as current nor among its kept versions is unknown."""

from __future__ import annotations

import pandas as pd

from backbone_domain.version_audit import VERSION_KEY, layer_versions, unknown_versions

DAY = pd.Timestamp("2024-01-10", tz="UTC")
T1, T2 = pd.Timestamp("2024-02-01T10:00:00.123456", tz="UTC"), pd.Timestamp("2024-02-02T10:00:00", tz="UTC")


def _versions(*rows: tuple[str, pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(VERSION_KEY))


def test_a_version_the_store_keeps_current_or_superseded_is_known_and_another_is_not() -> None:
    known = _versions(("AAPL", DAY, T1), ("AAPL", DAY, T2), ("MSFT", DAY, T1))  # AAPL corrected at T2, kept
    held = _versions(("AAPL", DAY, T1), ("MSFT", DAY, T2), ("IBM", DAY, T1), ("MSFT", DAY, T1))

    missing = unknown_versions(held, known)

    assert missing.values.tolist() == [["MSFT", DAY, T2], ["IBM", DAY, T1]]


def test_stamps_compare_as_instants_whatever_the_unit_or_zone_a_layer_keeps() -> None:
    known = _versions(("AAPL", DAY, T1))
    held = _versions(("AAPL", DAY.tz_convert("America/New_York"), T1.tz_convert("Asia/Tokyo")))
    held["ingested_at"] = held["ingested_at"].dt.as_unit("ns")

    assert unknown_versions(held, known).empty
    assert unknown_versions(held.assign(ingested_at=T1 + pd.Timedelta(microseconds=1)), known).values.tolist() == [
        ["AAPL", DAY.tz_convert("America/New_York"), T1 + pd.Timedelta(microseconds=1)]
    ]


def test_the_verdict_counts_and_names_the_first_unknown_versions() -> None:
    known = _versions(("AAPL", DAY, T2))
    held = _versions(*((f"S{i}", DAY, T1) for i in range(7)), ("AAPL", DAY, T2))

    verdict = layer_versions("cache", held, known, examples=2)

    assert (verdict.layer, verdict.held, verdict.unknown, verdict.consistent) == ("cache", 8, 7, False)
    assert verdict.examples == (
        "S0 2024-01-10 ingested 2024-02-01T10:00:00.123456+00:00",
        "S1 2024-01-10 ingested 2024-02-01T10:00:00.123456+00:00",
    )
    assert layer_versions("export", held.iloc[[7]], known).consistent
    assert layer_versions("export", held.iloc[[]], known).consistent
