"""The file source parses each file once per instance, whatever the universe: beyond the in-memory cap parsed
files are served from an on-disk stage, with the same rows, and the stage never outlives its owner."""

import datetime as dt
import gc
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from backbone_resources.source import file_stage, files
from backbone_resources.source.base import SourceUnavailable
from backbone_resources.source.file_stage import FileStage
from backbone_resources.source.files import FileSource

D = dt.date
DATA = Path(__file__).resolve().parents[2] / "data"
ALL = (D(1990, 1, 1), D(2100, 12, 31))


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """Stages under this test's directory: the orphan sweep must not look at other runs' stages."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def stages(root: Path) -> list[Path]:
    return sorted(root.glob(f"{file_stage.PREFIX}*"))


def chunked(source: FileSource, days: int, count: int = 50) -> pd.DataFrame:
    """What ``land_raw`` asks for: consecutive ranges across every symbol, from before the first row."""
    start = D(2023, 12, 25)
    step = dt.timedelta(days=days)
    parts = [source.fetch(start + i * step, start + (i + 1) * step - dt.timedelta(days=1)) for i in range(count)]
    return pd.concat(parts, ignore_index=True)


def universe(tmp_path: Path, count: int) -> Path:
    directory = tmp_path / "csv"
    directory.mkdir()
    for i in range(count):  # 10 and 21 rows, one with unreadable dates
        source = DATA / ("yahoo/MSFT.csv", "yahoo/AAPL.csv", "malformed/ACME.csv")[i % 3]
        shutil.copy(source, directory / f"S{i}.csv")
    return directory


def test_each_file_is_parsed_once_over_many_chunks_when_the_universe_outgrows_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 15)  # less than two files
    calls: list[Path] = []
    real_parse = files._parse
    monkeypatch.setattr(files, "_parse", lambda path, span: calls.append(path) or real_parse(path, span))
    source = FileSource(directory=str(universe(tmp_path, 12)))
    first = chunked(source, days=1)
    again = chunked(source, days=3, count=20)
    assert sorted(p.name for p in calls) == sorted(f"S{i}.csv" for i in range(12))  # once each, not per chunk
    assert len(source._staged) == 11
    assert len(source._cache) == 1
    assert len(first) == len(again) == 4 * (10 + 21 + 10)  # every row of every file, once
    source.close()


@pytest.mark.parametrize("directory", ["yahoo", "malformed", "parquet"])
def test_staged_files_give_the_same_frames_as_files_in_memory(directory, tmp_path, monkeypatch):
    if directory == "parquet":
        frame = pd.DataFrame(
            {
                "Open": [1.5, 2.25, 3.0],
                "Close": [1.75, None, 3.5],
                "Volume": pd.array([10, None, 30], dtype="Int64"),
                "Note": ["a", None, "é\"'"],
            },
            index=pd.DatetimeIndex(["2024-01-03", "2024-01-02", "2024-01-09"], tz="America/New_York", name="Date"),
        )
        frame.to_parquet(tmp_path / "IDX.parquet")
        frame.reset_index().assign(Date=lambda f: f["Date"].dt.date).to_parquet(tmp_path / "COL.parquet")
        path = str(tmp_path)
    else:  # two files at least, so one is staged
        for file in (DATA / directory).glob("*.csv"):
            shutil.copy(file, tmp_path / file.name)
            shutil.copy(file, tmp_path / f"COPY{file.name}")
        path = str(tmp_path)
    reads = ((5, 50), (7, 36), (1, 60))
    in_memory = [chunked(FileSource(directory=path), days, count=count) for days, count in reads]
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 1)  # every file but the last one read goes to the stage
    staged = FileSource(directory=path)
    staged.fetch(*ALL)
    assert len(staged._staged) == len(staged.universe()) - 1
    for (days, count), expected in zip(reads, in_memory, strict=True):
        pd.testing.assert_frame_equal(chunked(staged, days, count=count), expected, check_exact=True)
    staged.close()


def test_a_changed_file_is_parsed_again_and_its_old_stage_file_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 1)
    directory = universe(tmp_path, 2)
    source = FileSource(directory=str(directory))
    source.fetch(*ALL)
    (key, staged), *_ = source._staged.items()
    path = Path(key[0])
    path.write_text(path.read_text() + "2024-01-17,1,2,0.5,1.5,1.5,100\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert source.fetch(D(2024, 1, 17), D(2024, 1, 17), symbols=[path.stem])["close"].tolist() == ["1.5"]
    stage_dir = source._stage.directory
    assert stage_dir is not None
    assert not (stage_dir / f"{staged.handle}.arrow").exists()
    assert all(k[0] != str(path) or k[1] != key[1] for k in [*source._cache, *source._staged])
    source.close()


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 1)
    directory = universe(tmp_path, 3)

    def full(self, table):
        raise OSError(28, "No space left on device")

    source = FileSource(directory=str(directory))
    expected = source.fetch(*ALL, symbols=["S0"])
    real_put = FileStage.put
    monkeypatch.setattr(FileStage, "put", full)
    with pytest.raises(SourceUnavailable, match="TMPDIR") as err:
        source.fetch(*ALL)
    assert "No space left" in str(err.value)
    monkeypatch.setattr(FileStage, "put", real_put)
    pd.testing.assert_frame_equal(source.fetch(*ALL, symbols=["S0"]), expected)  # parsed again when needed
    source.close()


def test_the_stage_is_removed_on_close_and_when_collected(tmp_path, private_tmp, monkeypatch):
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 1)
    directory = universe(tmp_path, 3)
    source = FileSource(directory=str(directory))
    before = source.fetch(*ALL)
    assert len(stages(private_tmp)) == 1
    source.close()
    assert stages(private_tmp) == []
    pd.testing.assert_frame_equal(source.fetch(*ALL), before)  # usable after close: parses again
    assert len(stages(private_tmp)) == 1
    del source
    gc.collect()
    assert stages(private_tmp) == []


def test_two_stages_never_share_a_directory_and_orphans_are_swept(private_tmp):
    alive, other = FileStage(), FileStage()
    alive.put(pa.table({"x": [1]}))
    other.put(pa.table({"x": [2]}))
    assert alive.directory != other.directory
    orphan = private_tmp / f"{file_stage.PREFIX}dead"
    orphan.mkdir()
    (orphan / ".lock").touch()  # its owner died: nobody holds the lock
    FileStage().put(alive.get(0))
    assert orphan not in stages(private_tmp)
    assert alive.directory in stages(private_tmp)  # its lock is held
    assert other.directory in stages(private_tmp)
    assert alive.get(0).column("x").to_pylist() == [1]


def test_rows_kept_by_the_caller_pin_no_mapping(private_tmp, monkeypatch):
    monkeypatch.setattr(file_stage, "MAX_MAPPED", 4)
    stage = FileStage()
    handles = [stage.put(pa.table({"text": [f"{i}-{j}" for j in range(100)]})) for i in range(20)]
    kept = [stage.rows(handle, 10, 5) for handle in handles]  # every slice still alive
    assert [t.column("text").to_pylist() for t in kept[:2]] == [
        [f"0-{j}" for j in range(10, 15)],
        [f"1-{j}" for j in range(10, 15)],
    ]
    directory = str(stage.directory)
    mapped = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if directory in line}
    assert len(mapped) <= 4  # only the stage's own most recent mappings, not one per kept slice
    stage.close()


def _resident_file_kib() -> int:
    """This process's resident file-backed pages (mapped files), from /proc/self/status."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("RssFile:"))
    return int(line.split()[1])


@pytest.mark.parametrize("released", [True, False], ids=["released", "kept"])
def test_pages_read_from_the_stage_leave_the_rss(private_tmp, monkeypatch, released):
    """Every file stays mapped, so a backfill reading all of them once a chunk maps each once; what keeps the
    memory bounded is that a read's pages are released after the copy. Without it (``kept``) they stay."""
    if not released:
        monkeypatch.setattr(file_stage, "release_pages", lambda mapped: None)
    stage = FileStage()
    handles = [stage.put(pa.table({"text": [f"{i}-{j}-" + "x" * 80 for j in range(10_000)]})) for i in range(30)]
    before = _resident_file_kib()
    copies = [stage.rows(handle, 0, 10_000) for handle in handles]  # ~1 MiB read from each of 30 files
    grown = _resident_file_kib() - before
    assert copies[7].column("text")[3].as_py() == "7-3-" + "x" * 80
    if released:
        assert grown < 4 * 1024
    else:
        assert grown > 20 * 1024  # the measurement sees mapped pages: the released case is not vacuous
    stage.close()
