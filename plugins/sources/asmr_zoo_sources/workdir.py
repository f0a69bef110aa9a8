"""Download folders under ``<out>/.work``: one per run, locked while the run lives, swept when it is not.

A run works in ``.work/run-<pid>-<random>/``, holding an exclusive ``flock`` on that folder until it ends
(the kernel drops the lock when the process dies, however it dies). A killed run's folder, which can hold a
whole downloaded and decoded video, is thus the one nobody holds: the next run over the same ``<out>``
deletes it. Runs sharing ``<out>`` (``--shard i/n`` jobs) never delete each other's folders.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WORK_DIR = ".work"
_NEW = ".new-"  # a folder being created, not yet locked
_NEW_GRACE_SECONDS = 60.0


@contextmanager
def run_folder(work: Path) -> Iterator[Path]:
    """A fresh folder under ``work``, locked until the context exits, then deleted (and ``work`` with it when no
    other run's folder is left there)."""
    work.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=_NEW, dir=work))
    handle = os.open(new, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # taken before the folder gets a name a sweep would look at
        folder = work / f"run-{os.getpid()}-{new.name[len(_NEW) :]}"
        new.rename(folder)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):  # not empty: another run works there
                work.rmdir()
    finally:
        os.close(handle)


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    return sum((Path(top) / name).lstat().st_size for top, _, names in os.walk(path) for name in names)


def _remove_if_stale(entry: Path) -> int | None:
    """Delete ``entry`` unless a live run holds it (or it is being created); the bytes freed, or None."""
    if entry.name.startswith(_NEW) and time.time() - entry.lstat().st_mtime < _NEW_GRACE_SECONDS:
        return None
    try:
        handle = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # a symlink or an unreadable entry: not ours to judge
        return None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # a live run's folder
        size = _size(entry)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        return size
    finally:
        os.close(handle)


def sweep(work: Path) -> tuple[int, int]:
    """Delete what killed runs left under ``work``; return (entries removed, bytes freed)."""
    removed = freed = 0
    for entry in sorted(work.iterdir()) if work.is_dir() else ():
        size = _remove_if_stale(entry)
        if size is not None:
            removed, freed = removed + 1, freed + size
    return removed, freed


def size_text(size: int) -> str:
    """``size`` bytes for people: kB, MB or GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 1e3:.1f} kB"
