"""Summaries of a data set: minutes per trigger, videos, the split."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from asmr_zoo.dataset import read_manifest


def summarise(root: Path) -> dict[str, Any]:
    """Per trigger: segments, minutes, videos, train and test videos; plus totals (unknown rows apart)."""
    rows = read_manifest(Path(root))
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"segments": 0, "seconds": 0.0, "videos": {}})
    unlabelled = 0
    for row in rows:
        if row.path is None or row.end is None:
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
    return {
        "triggers": triggers,
        "videos": len(splits),
        "train_videos": sum(s == "train" for s in splits.values()),
        "test_videos": sum(s == "test" for s in splits.values()),
        "minutes": round(sum(t["minutes"] for t in triggers.values()), 3),
        "unlabelled": unlabelled,
    }
