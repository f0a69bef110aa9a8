"""Summaries of a data set: minutes per trigger, videos, the split; and the stereo image of each trigger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asmr_zoo.dataset import ManifestRow, read_manifest
from asmr_zoo.errors import DataError
from asmr_zoo.triggers import UNKNOWN

Progress = Callable[[int, int], None]  # (stereo files read, total)
SEED = 0  # of the frames sampled per trigger: the same data set gives the same figures


def summarise(root: Path, spatial: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Per trigger: segments, minutes, videos, train and test videos; plus totals (unknown rows apart).

    With ``spatial``, each trigger also gets a ``spatial`` section (see :func:`spatial_summary`)."""
    rows = read_manifest(Path(root))
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"segments": 0, "seconds": 0.0, "videos": {}})
    unlabelled = 0
    for row in rows:
        if not _counted(row):
            unlabelled += 1
            continue
        entry = per[row.trigger]
        entry["segments"] += 1
        entry["seconds"] += row.end - row.start
        entry["videos"][row.video_id] = row.split
    triggers = {
        name: {
            "segments": e["segments"],
            "minutes": round(e["seconds"] / 60, 3),
            "videos": len(e["videos"]),
            "train_videos": sum(s == "train" for s in e["videos"].values()),
            "test_videos": sum(s == "test" for s in e["videos"].values()),
        }
        for name, e in sorted(per.items())
    }
    splits = {row.video_id: row.split for row in rows}
    if spatial:
        sections = spatial_summary(Path(root), rows, progress)
        for name, entry in triggers.items():
            entry["spatial"] = sections.get(name)
    return {
        "triggers": triggers,
        "videos": len(splits),
        "train_videos": sum(s == "train" for s in splits.values()),
        "test_videos": sum(s == "test" for s in splits.values()),
        "minutes": round(sum(t["minutes"] for t in triggers.values()), 3),
        "unlabelled": unlabelled,
    }


def _counted(row: ManifestRow) -> bool:
    """Whether a row counts towards its trigger: a known trigger, with training audio."""
    return row.path is not None and row.end is not None and row.trigger != UNKNOWN


def _stereo_file(row: ManifestRow) -> tuple[str, str] | None:
    """The stereo audio of a row, as ``(kind, path relative to the root)``: the training copy when it is stereo
    (it is at the model's rate), else the master when that is; None for mono."""
    if row.path is not None and row.channels == 2:
        return "training copies", row.path
    if row.master is not None and row.master_channels == 2:
        return "masters", row.master
    return None


def spatial_summary(root: Path, rows: Sequence[ManifestRow], progress: Progress | None = None) -> dict[str, Any]:
    """Per trigger with stereo audio: the spatial statistics of ``asmr_zoo.spatial`` over its clips' active
    frames (ILD per band, ITD, coherence, correlation, side/mid: mean, std, percentiles), the shares of
    dual-mono and anti-phase clips, and which files were read. Triggers with only mono audio get None.

    Only counted rows (a known trigger, with training audio) are read. Each clip is analysed, added to its
    trigger's pool and dropped: a trigger keeps a seeded sample of at most ``POOL_FRAMES`` frames, not them all."""
    from asmr_zoo.audio import read_audio
    from asmr_zoo.spatial import Pool, analyse, describe

    pools: dict[str, Pool] = {}
    kinds: dict[str, set[str]] = defaultdict(set)
    mono: dict[str, int] = defaultdict(int)
    stereo: list[tuple[ManifestRow, str, str]] = []
    for row in rows:
        if _counted(row):
            found = _stereo_file(row)
            if found is None:
                mono[row.trigger] += 1
            else:
                stereo.append((row, *found))
    for done, (row, kind, rel) in enumerate(stereo, 1):
        audio, rate = read_audio(root / rel)
        if audio.shape[0] != 2:
            raise DataError(
                f"{root / rel} has {audio.shape[0]} channel(s), its manifest says 2; rerun the "
                f"`asmr-zoo data` command that built {root}"
            )
        kinds[row.trigger].add(kind)
        pools.setdefault(row.trigger, Pool(seed=SEED)).add(analyse(audio, rate))
        if progress is not None:
            progress(done, len(stereo))
    return {
        name: {"read": " and ".join(sorted(kinds[name])), "mono_clips": mono[name], **describe(pooled.result())}
        for name, pooled in pools.items()
    }
