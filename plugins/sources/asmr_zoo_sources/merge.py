"""``asmr-zoo data merge``: combine data sets, e.g. the outputs of ``--shard i/n`` jobs run on several machines.

The merged manifest is the union of the inputs' rows, de-duplicated by (video, start, end): the first input
listing a segment wins. Clips and masters are hard-linked where the file systems allow (the data sets'
files are only ever replaced, never changed in place, so a link is safe), else copied. Each video gets one
part file, so the result is an ordinary data set that later runs resume into, and the split is assigned
again by video over the union (``assign_splits``, as one run over all the videos would): a video is never
in two splits. Everything is written into a hidden folder beside ``out`` and renamed into place at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asmr_zoo.dataset import MANIFEST_NAME, DatasetWriter, ManifestRow, inside, read_manifest
from asmr_zoo.errors import DataError, UsageError

Progress = Callable[[int, int], None]  # (rows merged, total)


@dataclass
class MergeReport:
    inputs: int
    out: Path
    rows: int = 0
    videos: int = 0
    duplicates: int = 0
    linked: int = 0
    copied: int = 0

    def summary(self) -> str:
        return (
            f"merged {self.inputs} data sets into {self.out}: {self.rows} rows of {self.videos} videos "
            f"({self.duplicates} duplicates dropped); {self.linked} files hard-linked, {self.copied} copied "
            f"-> {self.out / MANIFEST_NAME}"
        )


def _check_out(roots: Sequence[Path], out: Path, force: bool) -> None:
    """Refuse an ``out`` that is one of the inputs (or holds one, or lies in one), or is in use without --force."""
    for root in roots:
        a, b = root.resolve(), out.resolve()
        if a == b or a.is_relative_to(b) or b.is_relative_to(a):
            raise UsageError(f"--out {out} overlaps the input {root}; merge into a new folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; choose a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"--out {out} exists and is not empty; pass --force to replace it, or choose another --out")


def _formats(rows: Sequence[ManifestRow]) -> set[tuple[int, int]]:
    """The (sample rate, channels) of a data set's training copies."""
    return {(int(r.sample_rate or 0), int(r.channels or 1)) for r in rows if r.path is not None}


def _describe(formats: set[tuple[int, int]]) -> str:
    return " and ".join(f"{rate} Hz {'mono' if ch == 1 else 'stereo'}" for rate, ch in sorted(formats))


def _check_formats(sets: Sequence[tuple[Path, list[ManifestRow]]]) -> None:
    """Refuse to mix training copies of different sample rates or channel counts."""
    formats = {root: _formats(rows) for root, rows in sets}
    if len(set().union(*formats.values())) > 1:
        held = "; ".join(f"{root} holds {_describe(f)}" for root, f in formats.items() if f)
        raise DataError(
            f"cannot merge training copies of different formats ({held}); rebuild the odd ones with "
            f"--sample-rate and --channels matching the others"
        )


def _union(sets: Sequence[tuple[Path, list[ManifestRow]]]) -> tuple[list[tuple[Path, ManifestRow]], int]:
    """The rows of all sets, each segment (and each file name) once; and how many were dropped."""
    kept, keys, paths, duplicates = [], set(), set(), 0
    for root, rows in sets:
        for row in rows:
            key = (row.video_id, round(row.start, 3), None if row.end is None else round(row.end, 3))
            if key in keys or (row.path is not None and row.path in paths):
                duplicates += 1
                continue
            keys.add(key)
            paths.add(row.path)
            kept.append((root, row))
    return kept, duplicates


def _link_or_copy(source: Path, target: Path) -> bool:
    """Hard-link ``source`` to ``target`` (True), or copy it where links cannot be made (False)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copy2(source, target)
        return False


def _place(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` folder to ``out``, replacing what is there."""
    if not out.exists():
        tmp.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    out.rename(old / out.name)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def merge_datasets(
    roots: Sequence[Path], out: Path, force: bool = False, progress: Progress | None = None
) -> MergeReport:
    """Combine the data sets ``roots`` into a new one at ``out`` (see the module's docstring)."""
    roots, out = [Path(r) for r in roots], Path(out)
    _check_out(roots, out, force)
    sets = [(root, read_manifest(root)) for root in roots]
    _check_formats(sets)
    rows, duplicates = _union(sets)
    if not rows:
        raise DataError(f"{' and '.join(map(str, roots))} hold no rows: there is nothing to merge")
    report = MergeReport(len(roots), out, duplicates=duplicates)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.merge-", dir=out.parent))
    try:
        for done, (root, row) in enumerate(rows, 1):
            for relative in (row.path, row.master):
                if relative is None:
                    continue
                source = inside(root, relative, f"{root / MANIFEST_NAME}: video '{row.video_id}'")
                if not source.is_file():
                    raise DataError(
                        f"{source} is listed in {root / MANIFEST_NAME} but missing; rerun the `asmr-zoo data` "
                        f"command that built {root} to restore it, then merge again"
                    )
                linked = _link_or_copy(source, tmp / relative)
                report.linked, report.copied = report.linked + linked, report.copied + (not linked)
            if progress is not None:
                progress(done, len(rows))
        writer = DatasetWriter(tmp)
        videos: dict[str, list[ManifestRow]] = {}
        for _, row in rows:
            videos.setdefault(row.video_id, []).append(row)
        for video_id, video_rows in videos.items():
            writer.write_part(video_id, video_rows)
        report.rows, report.videos = len(writer.finalise()), len(videos)
        _place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report
