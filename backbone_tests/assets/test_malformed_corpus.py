"""Nothing lost, over a corpus of malformed files on both tiers (issue 13, D1 and D2).

Invariant, per file: rows stored + rows rejected + rows of the file if it is quarantined whole = rows in the file.
Every file is accounted for in the store, in ``backbone rejected`` and in the raw layer's check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from backbone_assets.definitions import build_defs
from backbone_assets.jobs import ASSET_CHECKS_JOB
from backbone_domain.quarantined_files import printable
from backbone_ops import runner
from backbone_ops.cli import main
from backbone_ops.resources import all_resources
from backbone_resources.settings import BackboneSettings
from backbone_tests.malformed_corpus import MAP, write_corpus

pytestmark = pytest.mark.slow
YEAR = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))  # every date of the corpus a partition reaches
EVER = (dt.date(1800, 1, 1), dt.date(2300, 1, 1))


@pytest.fixture(params=["bootstrap", "institutional"])
def tier(request) -> BackboneSettings:
    return request.getfixturevalue(request.param)


def test_every_row_of_every_malformed_file_is_stored_rejected_or_in_a_quarantined_file(tier, tmp_path) -> None:
    cases = write_corpus(tmp_path / "corpus")
    # source_symbol_map: what BACKBONE_SOURCE_SYMBOL_MAP="BRK B=BRK.B" sets
    update = {"source": f"csv:{tmp_path / 'corpus'}", "symbols": [], "source_symbol_map": dict(MAP)}
    settings = tier.model_copy(update=update)

    result = runner.materialize(settings, *YEAR, ["daily_bars_raw", "daily_bars"])

    assert result.success
    with all_resources(settings) as resources:
        stored = Counter(resources.store.read_bars(*EVER)["symbol"])
        rejected = Counter(json.loads(p)["file"] for p in resources.store.read_rejected(*YEAR)["payload"])
        files = resources.store.read_quarantined_files()
    quarantined = {Path(path).name: rows for path, rows in zip(files["path"], files["rows"], strict=True)}
    figures = []
    for case in cases:
        name = printable(case.name)
        in_store, in_rejected = stored[case.symbol], rejected[case.name]
        if case.whole_file_quarantined:
            assert name in quarantined, f"{name} not quarantined"
            assert (in_store, in_rejected) == (0, 0), name
            if case.rows is not None:
                assert quarantined[name] == case.rows, name
        else:
            assert name not in quarantined, f"{name}: {files[files['path'].str.endswith(name)]['reason'].tolist()}"
            assert in_store + in_rejected == case.rows, f"{name}: {in_store} stored + {in_rejected} rejected"
        figures.append((name, case.rows, in_store, in_rejected, quarantined.get(name, "-")))
    assert len(cases) >= 60
    assert set(quarantined) == {printable(c.name) for c in cases if c.whole_file_quarantined}  # nothing else
    counted = sum(c.rows for c in cases if c.rows is not None)
    in_files = sum(quarantined[printable(c.name)] for c in cases if c.whole_file_quarantined and c.rows is not None)
    assert sum(stored.values()) + sum(rejected.values()) + in_files == counted  # the invariant, summed
    unknown = sum(1 for c in cases if c.rows is None)
    print(
        f"{len(cases)} files, {counted} rows: {sum(stored.values())} stored + {sum(rejected.values())} rejected + "
        f"{in_files} in {len(quarantined)} files quarantined whole ({unknown} of them Parquet without a footer)"
    )

    # backbone rejected lists every quarantined file and row, with its reason
    env = {"BACKBONE_MODE": settings.tier().tier, "BACKBONE_HOME": str(settings.home)}
    env |= {"BACKBONE_TIMESCALE_URL": settings.timescale_url.get_secret_value()} if settings.timescale_url else {}
    listed = CliRunner().invoke(main, ["rejected", "--start", "2024-01-01", "--end", "2024-12-31", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    records = [json.loads(line) for line in listed.output.splitlines()]
    assert sorted(Path(r["file"]).name for r in records if "file" in r) == sorted(quarantined)
    assert sum(1 for r in records if "payload" in r) == sum(rejected.values())
    assert all(r["reasons"] for r in records)

    key = dg.AssetCheckKey(dg.AssetKey("daily_bars_raw"), "daily_bars_raw_files_readable")
    with dg.instance_for_test() as instance:  # the check alone: the job's others would start every layer
        job = build_defs(settings).resolve_job_def(ASSET_CHECKS_JOB)
        job = job.get_subset(asset_selection=set(), asset_check_selection={key})
        checks = job.execute_in_process(instance=instance)
    [files_check] = checks.get_asset_check_evaluations()
    assert not files_check.passed
    assert files_check.severity == dg.AssetCheckSeverity.WARN
    assert files_check.metadata["quarantined_files"].value == len(quarantined)
