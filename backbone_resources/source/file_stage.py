"""A private scratch directory of Arrow IPC files: parsed source files kept on disk, read back by slice.

The file source parses each file once per instance; files that no longer fit in its in-memory cache are
written here, uncompressed, and memory-mapped when read, so serving a date chunk costs copying a slice
rather than a re-parse, and memory holds only what the chunk returns: no slice handed out pins a mapping, and
after each copy the mapping's pages leave the process's RSS (``madvise(MADV_DONTNEED)``; a mapped page counts
in RSS until then). Each file stays mapped (up to ``MAX_MAPPED``): a backfill reads every file once a date
chunk, in the same order, so a small least-recently-used set missed every time, and mapping 1,000 files again
for each of 21 chunks cost ~6 s of a 2.6M-bar landing. Address space is cheap; resident pages are not.

The directory lives under the system temp directory (``TMPDIR``), is named after nothing shared, and is owned
by one stage: it is removed by ``close()``, when the stage is garbage-collected, or at interpreter exit. A
process killed outright cannot clean up, so each stage holds an exclusive ``flock`` on a lock file inside its
directory for its lifetime, and a new stage removes the directories whose lock nobody holds: a live run's stage
is never touched, whichever process or container holds it, and a dead run's is gone by the next run.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

PREFIX: Final = "backbone-file-stage-"
MAX_MAPPED: Final = 4096  # files kept mapped at once (address space; their pages are released after each read)
_LOCK: Final = ".lock"
_YOUNG_S: Final = 3600  # a directory without its lock file this young may be one being created


class FileStage:
    """Arrow tables written once, each read back as a memory-mapped table; the directory appears on first write."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._directory: Path | None = None
        self._lock_fd: int | None = None
        self._finalizer: weakref.finalize | None = None
        self._mapped: OrderedDict[int, tuple[pa.Table, pa.Buffer]] = OrderedDict()
        self._written = 0

    @property
    def directory(self) -> Path | None:
        """Where the tables are; None until the first ``put`` and after ``close``."""
        return self._directory

    def put(self, table: pa.Table) -> int:
        """Write ``table``; returns the handle ``get`` and ``drop`` take."""
        with self._guard:
            directory = self._open()
            handle, self._written = self._written, self._written + 1
            path = directory / f"{handle}.arrow"
            try:
                with ipc.new_file(path, table.schema) as writer:
                    writer.write_table(table)
            except OSError:  # a full disk: leave no partial file behind
                path.unlink(missing_ok=True)
                raise
            return handle

    def get(self, handle: int) -> pa.Table:
        """The table ``put`` returned ``handle`` for, mapped from disk (no copy until a slice is converted)."""
        return self._map(handle)[0]

    def _map(self, handle: int) -> tuple[pa.Table, pa.Buffer]:
        """The table and the whole mapped file it lives in."""
        with self._guard:
            mapped = self._mapped.get(handle)
            if mapped is not None:
                self._mapped.move_to_end(handle)
                return mapped
            if self._directory is None:
                raise RuntimeError("the file stage was closed; its tables are gone")
            with pa.memory_map(str(self._directory / f"{handle}.arrow")) as source:
                whole = source.read_buffer()  # zero-copy: the mapping outlives the closed file descriptor
            mapped = self._mapped[handle] = (ipc.open_file(whole).read_all(), whole)
            while len(self._mapped) > MAX_MAPPED:
                self._mapped.popitem(last=False)
            return mapped

    def rows(self, handle: int, lo: int, count: int) -> pa.Table:
        """Rows [lo, lo + count) of a table, copied out of its mapping: what a caller keeps never pins a mapped
        file, so at most ``MAX_MAPPED`` files' pages count in the process's RSS, however long a slice lives
        (a zero-copy slice inside a frame waiting for the garbage collector held 600 mappings in a backfill), and
        the pages read leave the process's RSS afterwards (``release_pages``)."""
        table, whole = self._map(handle)
        part = table.slice(lo, count)
        copied = pc.take(part, pa.array(np.arange(part.num_rows)))  # take = a copy into new buffers
        release_pages(whole)
        return copied

    def drop(self, handle: int) -> None:
        """Forget one table (its source file changed): unmapped once no slice of it is alive."""
        with self._guard:
            self._mapped.pop(handle, None)
            if self._directory is not None:
                (self._directory / f"{handle}.arrow").unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the directory and everything in it; a later ``put`` starts a new one."""
        with self._guard:
            self._mapped.clear()
            if self._finalizer is not None:
                self._finalizer()
            self._directory, self._lock_fd, self._finalizer = None, None, None

    def _open(self) -> Path:
        if self._directory is None:
            parent = Path(tempfile.gettempdir())
            _sweep_orphans(parent)
            directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
            # Locked under another name, then renamed: a sweeper in another process that found the lock file
            # between its creation and the flock would take the lock and remove this new directory.
            fd = os.open(directory / f"{_LOCK}.new", os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fresh file: nobody else can hold it
            os.rename(directory / f"{_LOCK}.new", directory / _LOCK)
            self._finalizer = weakref.finalize(self, _remove, directory, fd)
            self._directory, self._lock_fd = directory, fd
        return self._directory


_MADV_DONTNEED: Final = getattr(mmap, "MADV_DONTNEED", None)
_LIBC = ctypes.CDLL(None, use_errno=True) if _MADV_DONTNEED is not None else None


def release_pages(mapped: pa.Buffer) -> None:
    """Drop a read-only file mapping's resident pages from this process (``madvise(MADV_DONTNEED)``): the data
    stays in the file and the page cache, and a later read faults it back in. Where the call is missing (not
    Linux), nothing happens and the pages stay until the file is unmapped."""
    if _LIBC is None or not mapped.size:
        return
    start = mapped.address - mapped.address % mmap.PAGESIZE  # a mapping starts on a page; be sure anyway
    _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(mapped.address + mapped.size - start), _MADV_DONTNEED)


def _remove(directory: Path, fd: int) -> None:
    """Delete the directory, then release the lock, so a sweeper never sees it unlocked and half-deleted."""
    shutil.rmtree(directory, ignore_errors=True)
    os.close(fd)


def _sweep_orphans(parent: Path) -> None:
    """Remove stage directories left by processes that died without cleaning up: their lock is free."""
    for directory in parent.glob(f"{PREFIX}*"):
        lock = directory / _LOCK
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:  # being created, or a crash between mkdtemp and the lock: wait an hour
            try:
                if time.time() - directory.stat().st_mtime > _YOUNG_S:
                    shutil.rmtree(directory, ignore_errors=True)
            except OSError:
                pass
            continue
        except OSError:  # not ours to judge (another user's, unreadable)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: a live stage
            os.close(fd)
            continue
        shutil.rmtree(directory, ignore_errors=True)
        os.close(fd)
