"""``asmr-zoo data merge``: shard outputs combined into one data set, safely."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from asmr_zoo.dataset import MANIFEST_NAME, PARTS_DIR, read_dataset, read_manifest
from asmr_zoo_sources.build import build_dataset
from asmr_zoo_sources.synthetic import SyntheticSource

TRIGGERS = ["tapping_wood", "brushing_mic", "scratching_mic"]


def _synth(out: Path, shard: tuple[int, int] | None = None, sample_rate: int = 16000) -> Path:
    source = SyntheticSource(minutes=0.15, seed=0, clip_seconds=3)
    build_dataset(source, TRIGGERS, out, shard=shard, sample_rate=sample_rate)
    return out


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two shard outputs on their own, and the same videos built in one run."""
    root = tmp_path_factory.mktemp("shards")
    return {
        "a": _synth(root / "a", (1, 2)),
        "b": _synth(root / "b", (2, 2)),
        "whole": _synth(root / "whole"),
    }


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if line.strip()]


def _segments(root: Path) -> list[tuple[Any, ...]]:
    return sorted((r.video_id, r.start, r.end, r.trigger, r.split, r.path) for r in read_manifest(root))


def test_shards_merge_into_the_data_set_one_run_makes(tmp_path: Path, shards: dict[str, Path], cli: Any) -> None:
    out = tmp_path / "merged"
    result = cli("data", "merge", str(shards["a"]), str(shards["b"]), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert _segments(out) == _segments(shards["whole"]), "rows, paths and the split by video as one run gives"
    assert "(0 duplicates dropped)" in result.stdout and "0 copied" in result.stdout
    splits: dict[str, set[str]] = {}
    for row in read_manifest(out):
        splits.setdefault(row.video_id, set()).add(row.split)
    assert all(len(s) == 1 for s in splits.values()), "a video is never in two splits"
    for row in read_manifest(out):
        if row.path is not None:
            shard = shards["a"] if (shards["a"] / row.path).exists() else shards["b"]
            assert (out / row.path).stat().st_ino == (shard / row.path).stat().st_ino, "hard-linked"
            assert (out / row.master).is_file()
    assert len(read_dataset(out)) == len(read_dataset(shards["whole"]))
    assert len(list((out / PARTS_DIR).glob("*.jsonl"))) == len(splits), "an ordinary data set: runs resume into it"
    again = cli("data", "synth", "--out", str(out), "--triggers", ",".join(TRIGGERS), "--minutes", "0.15",
                "--clip-seconds", "3")  # fmt: skip
    assert again.returncode == 0 and f"0 processed, {len(splits)} already done" in again.stdout, again.stderr


def test_duplicates_are_dropped(tmp_path: Path, shards: dict[str, Path], cli: Any) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(shards["a"], copy)
    out = tmp_path / "merged"
    result = cli("data", "merge", str(shards["a"]), str(copy), str(shards["b"]), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = read_manifest(shards["a"])
    assert f"({len(rows)} duplicates dropped)" in result.stdout
    assert _segments(out) == _segments(shards["whole"])
    keys = [(r.video_id, r.start, r.end) for r in read_manifest(out)]
    assert len(keys) == len(set(keys))


def test_different_sample_rates_are_refused(tmp_path: Path, shards: dict[str, Path], cli: Any) -> None:
    low = _synth(tmp_path / "low", (2, 2), sample_rate=8000)
    out = tmp_path / "merged"
    result = cli("data", "merge", str(shards["a"]), str(low), "--out", str(out))
    (line,) = _lines(result.stderr)
    assert result.returncode != 0 and line.startswith("error: cannot merge training copies of different formats")
    assert f"{low} holds 8000 Hz mono" in line and "16000 Hz mono" in line and "--sample-rate" in line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["low"], "no temporary folder left"


def test_an_existing_out_is_refused_without_force(tmp_path: Path, shards: dict[str, Path], cli: Any) -> None:
    out = tmp_path / "merged"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = cli("data", "merge", str(shards["a"]), str(shards["b"]), "--out", str(out))
    (line,) = _lines(result.stderr)
    assert result.returncode != 0 and "exists and is not empty; pass --force" in line
    assert (out / "keep.txt").read_text() == "mine"
    forced = cli("data", "merge", str(shards["a"]), str(shards["b"]), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (out / "keep.txt").exists() and _segments(out) == _segments(shards["whole"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged"]
    inside = cli("data", "merge", str(shards["a"]), "--out", str(shards["a"]), "--force")
    (line,) = _lines(inside.stderr)
    assert inside.returncode != 0 and "overlaps the input" in line


def test_a_missing_clip_stops_the_merge_before_anything_is_placed(
    tmp_path: Path, shards: dict[str, Path], cli: Any
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(shards["b"], broken)
    row = next(r for r in read_manifest(broken) if r.path is not None)
    (broken / row.path).unlink()
    out = tmp_path / "merged"
    result = cli("data", "merge", str(shards["a"]), str(broken), "--out", str(out))
    (line,) = _lines(result.stderr)
    assert result.returncode != 0 and "is listed in" in line and "but missing" in line and "Traceback" not in line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["broken"]
    missing = cli("data", "merge", str(tmp_path / "nowhere"), "--out", str(out))
    assert missing.returncode != 0 and len(_lines(missing.stderr)) == 1 and not out.exists()


def test_merged_rows_keep_their_fields(tmp_path: Path, shards: dict[str, Path], cli: Any) -> None:
    out = tmp_path / "merged"
    assert cli("data", "merge", str(shards["a"]), str(shards["b"]), "--out", str(out)).returncode == 0
    merged = {json.dumps({k: v for k, v in json.loads(line).items() if k != "split"}, sort_keys=True)
              for line in (out / MANIFEST_NAME).read_text().splitlines()}  # fmt: skip
    originals = {json.dumps({k: v for k, v in json.loads(line).items() if k != "split"}, sort_keys=True)
                 for root in (shards["a"], shards["b"])
                 for line in (root / MANIFEST_NAME).read_text().splitlines()}  # fmt: skip
    assert merged == originals
