"""Overlapping partition replacements on a real PostgreSQL (issue 13, D5): two landings, or two rejected-row
replacements, in flight at once end with exactly one copy, the later one's. The first writer is held inside
its transaction (after its COPY, before its commit) while the second runs; without the lock, both committed.

DuckDB needs no such lock across processes: a writing call holds the file's lock for its whole transaction
(``duckdb_store``), so a second writer cannot even open the file until the first has committed; within one
process the store's own per-file lock serializes them (``test_duckdb_store``)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from backbone_domain.bars import empty_bars
from backbone_resources.store import postgres_raw, postgres_store
from backbone_resources.store.base import WriteCounts
from backbone_resources.store.postgres_locks import months, table_key
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import MON, bars, raw_rows, rejected_rows, week

pytestmark = pytest.mark.postgres
HELD_S = 1.0  # how long the first writer stays in its transaction after writing


@pytest.fixture
def two_stores(pg_url: str) -> Iterator[tuple[PostgresBarStore, PostgresBarStore]]:
    """Two store instances (two pools: two runs) over one schema."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    stores = PostgresBarStore(url=pg_url, schema_name=schema), PostgresBarStore(url=pg_url, schema_name=schema)
    yield stores
    for store in stores:
        store.close()


def _overlap(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, first: Callable[[], Any], second: Callable[[], Any]
) -> float:
    """Run ``first`` and, while it is held in its transaction just after ``module.name`` wrote, ``second``;
    returns how long ``second`` took."""
    real = getattr(module, name)
    written = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if threading.current_thread().name == "first":
            written.set()
            time.sleep(HELD_S)  # still inside the transaction: not committed yet
        return result

    monkeypatch.setattr(module, name, held)
    errors: list[BaseException] = []

    def run(work: Callable[[], Any]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    one = threading.Thread(target=run, args=(first,), name="first")
    one.start()
    assert written.wait(30), "the first writer never wrote"
    began = time.monotonic()
    run(second)
    took = time.monotonic() - began
    one.join(30)
    assert not errors, errors
    return took


def test_overlapping_landings_end_with_exactly_one_copy(
    two_stores: tuple[PostgresBarStore, PostgresBarStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_stores
    days = week(3)
    first = pd.concat([raw_rows(d) for d in days[:2]], ignore_index=True).assign(source="first")
    second = pd.concat([raw_rows(d) for d in days[1:]], ignore_index=True).assign(source="second")
    a.ping()  # migrate before the race

    waited = _overlap(
        monkeypatch,
        postgres_raw,
        "replace",
        lambda: a.replace_raw(days[0], days[1], first),
        lambda: b.replace_raw(days[1], days[2], second),
    )

    landed = a.read_raw(days[0], days[2])
    per_day = landed.groupby("partition_date")["source"].agg(lambda s: (len(s), set(s))).to_dict()
    assert per_day == {days[0]: (4, {"first"}), days[1]: (4, {"second"}), days[2]: (4, {"second"})}
    assert waited >= HELD_S / 2  # the second landing waited for the first to commit
    print(f"overlapping landings: the second waited {waited:.2f} s; {len(landed)} raw rows, one copy per day")


def test_overlapping_rejected_replacements_end_with_exactly_one_copy(
    two_stores: tuple[PostgresBarStore, PostgresBarStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_stores
    a.ping()

    waited = _overlap(
        monkeypatch,
        postgres_store,  # imported by name there
        "replace_rejected",
        lambda: a.write_validated(MON, MON, empty_bars(), rejected_rows([MON], 3, "first")),
        lambda: b.write_validated(MON, MON, empty_bars(), rejected_rows([MON], 3, "second")),
    )

    back = a.read_rejected(MON, MON)
    assert [p.count("second") for p in back["payload"]] == [1, 1, 1]
    assert waited >= HELD_S / 2


def test_overlapping_chunks_with_bars_and_rejected_rows_both_commit_without_deadlock(
    two_stores: tuple[PostgresBarStore, PostgresBarStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The locks come first in the transaction, before any bar is written, so two chunks writing the same bars
    queue instead of deadlocking; the later chunk's rejected rows are the ones kept."""
    a, b = two_stores
    days = week(4)
    a.ping()

    _overlap(
        monkeypatch,
        postgres_store,
        "replace_rejected",
        lambda: a.write_validated(days[0], days[2], bars(["AAA", "BBB"], days[:3]), rejected_rows(days[:3], 1, "a")),
        lambda: b.write_validated(days[1], days[3], bars(["AAA", "BBB"], days[1:]), rejected_rows(days[1:], 1, "b")),
    )

    assert a.range_counts(days[0], days[3]) == WriteCounts(bars=8, rejected=4)
    tags = [json.loads(p)["tag"] for p in a.read_rejected(days[0], days[3])["payload"]]
    assert tags == ["a", "b", "b", "b"]


def test_locks_are_per_table_and_month_in_ascending_order() -> None:
    assert months(dt.date(2023, 12, 30), dt.date(2024, 2, 1)) == [2023 * 12 + 11, 2024 * 12, 2024 * 12 + 1]
    assert months(dt.date(2024, 2, 1), dt.date(2024, 1, 1)) == []
    assert table_key("s.raw_batches") == table_key("s.raw_batches") != table_key("s.rejected_bars")
    assert -(2**31) <= table_key("s.raw_batches") < 2**31
