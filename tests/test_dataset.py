"""The data set on disk: manifest rows, atomic writes, resume markers, the split by video, read_dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asmr_zoo.dataset import (
    MANIFEST_NAME,
    DatasetWriter,
    ManifestRow,
    SegmentAudio,
    assign_splits,
    read_dataset,
    read_manifest,
    safe_name,
    segment_stem,
)
from asmr_zoo.errors import DataError


def _row(video: str, trigger: str, start: float = 0.0, end: float = 1.0) -> ManifestRow:
    return ManifestRow(video, trigger, trigger.replace("_", " "), start, end, "synthetic")


def _audio(seconds: float = 1.0, rate: int = 16000) -> SegmentAudio:
    t = np.arange(int(seconds * rate)) / rate
    mono = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    return SegmentAudio(mono, rate, np.concatenate([mono, -mono]), rate)


def _write(root: Path, videos: dict[str, list[str]]) -> DatasetWriter:
    writer = DatasetWriter(root)
    for video, triggers in videos.items():
        writer.write_video(
            video,
            [(_row(video, t, i, i + 1), None if t == "unknown" else _audio()) for i, t in enumerate(triggers)],
        )
    writer.finalise()
    return writer


def test_round_trip_through_read_dataset(tmp_path: Path) -> None:
    _write(tmp_path, {"vid-a": ["tapping_glass", "unknown"], "vid-b": ["tapping_glass"], "vid-c": ["whispering"]})
    rows = read_dataset(tmp_path)
    assert sorted((r.video_id, r.trigger) for r in rows) == [
        ("vid-a", "tapping_glass"),
        ("vid-b", "tapping_glass"),
        ("vid-c", "whispering"),
    ]
    for row in rows:
        assert row.path.is_absolute() and row.path.is_file()
        assert row.path.relative_to(tmp_path.resolve()).parts[0] == row.trigger
        assert row.path.name == f"{segment_stem(row.video_id, row.start, row.end)}.wav"
        info = sf.info(str(row.path))
        assert (info.channels, info.samplerate, info.subtype) == (1, 16000, "PCM_16")
        assert row.master is not None and sf.info(str(row.master)).channels == 2
        assert row.split in ("train", "test") and row.sample_rate == 16000 and row.origin == "synthetic"
    manifest = [json.loads(line) for line in (tmp_path / MANIFEST_NAME).read_text().splitlines()]
    assert len(manifest) == 4
    unknown = [m for m in manifest if m["trigger"] == "unknown"]
    assert unknown[0]["path"] is None and unknown[0]["video_id"] == "vid-a"
    assert {m["split"] for m in manifest if m["video_id"] == "vid-a"} == {manifest[0]["split"]}
    assert not list(tmp_path.rglob("*.tmp")), "no temporary files are left behind"


def test_a_video_is_done_only_when_its_part_and_all_its_files_exist(tmp_path: Path) -> None:
    writer = _write(tmp_path, {"vid-a": ["tapping_glass"]})
    assert writer.is_done("vid-a") and not writer.is_done("vid-b")
    (row,) = read_dataset(tmp_path)
    row.path.unlink()
    assert not writer.is_done("vid-a"), "a deleted file makes the video unfinished, so a rerun restores it"


def test_flac_training_copies(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, "flac")
    writer.write_video("v", [(_row("v", "brushing_mic"), _audio())])
    writer.finalise()
    (row,) = read_dataset(tmp_path)
    assert row.path.suffix == ".flac" and sf.info(str(row.path)).subtype == "PCM_16"
    with pytest.raises(DataError, match="mp3"):
        DatasetWriter(tmp_path, "mp3")


def test_split_is_by_video_deterministic_and_covers_each_trigger() -> None:
    rows = [
        _row(f"{trigger}-{k}", trigger, s)
        for trigger in ("tapping_glass", "whispering", "brushing_mic")
        for k in range(5)
        for s in range(3)
    ]
    for row in rows:
        row.path = "x.wav"
    splits = assign_splits(rows)
    assert splits == assign_splits(list(reversed(rows)))
    for trigger in ("tapping_glass", "whispering", "brushing_mic"):
        chosen = {splits[f"{trigger}-{k}"] for k in range(5)}
        assert chosen == {"train", "test"}


def test_split_keeps_single_videos_for_training_and_guarantees_a_test_video() -> None:
    rows = [_row("only", "whispering"), _row("a", "tapping_wood"), _row("b", "tapping_wood")]
    for row in rows:
        row.path = "x.wav"
    splits = assign_splits(rows, test_fraction=0.0)
    assert splits["only"] == "train"
    assert sorted([splits["a"], splits["b"]]) == ["test", "train"]
    all_test = assign_splits(rows, test_fraction=1.0)
    assert all_test["only"] == "train" and sorted([all_test["a"], all_test["b"]]) == ["test", "train"]


def test_split_of_many_videos_is_near_the_fraction() -> None:
    rows = [_row(f"video{k}", "tapping_glass") for k in range(1000)]
    for row in rows:
        row.path = "x.wav"
    share = sum(s == "test" for s in assign_splits(rows).values()) / 1000
    assert 0.15 < share < 0.25


def test_safe_names() -> None:
    assert safe_name("-0JvV2HKwVI") == "-0JvV2HKwVI"
    odd = safe_name("folder/clip $(rm -rf).wav")
    assert "/" not in odd and "$" not in odd and " " not in odd
    assert safe_name("a/b") != safe_name("a_b")


def test_read_errors_are_one_line_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist; build one with") as missing:
        read_dataset(tmp_path / "nope")
    assert "\n" not in str(missing.value)
    with pytest.raises(DataError, match=r"has no manifest\.jsonl"):
        read_dataset(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"video_id": "x"\n')
    with pytest.raises(DataError, match="line 1 is not a valid manifest row"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"video_id": "x"}\n')
    with pytest.raises(DataError, match="missing field"):
        read_manifest(tmp_path)
    _write(tmp_path / "unknown-only", {"v": ["unknown"]})
    with pytest.raises(DataError, match="no segments with a known trigger"):
        read_dataset(tmp_path / "unknown-only")


def test_missing_audio_file_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, {"v": ["tapping_glass"]})
    (row,) = read_dataset(tmp_path)
    row.path.unlink()
    with pytest.raises(DataError, match="missing; rerun"):
        read_dataset(tmp_path)


def test_a_corrupt_manifest_is_rebuilt_from_the_parts(tmp_path: Path) -> None:
    writer = _write(tmp_path, {"v": ["tapping_glass"], "w": ["tapping_glass"]})
    (tmp_path / MANIFEST_NAME).write_text("garbage")
    writer.finalise()
    assert len(read_dataset(tmp_path)) == 2


def test_manifest_paths_outside_the_data_set_and_repeated_rows_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "set"
    _write(root, {"v": ["tapping_glass"], "w": ["tapping_glass"]})
    lines = (root / MANIFEST_NAME).read_text().splitlines()
    secret = tmp_path / "secret.wav"
    sf.write(secret, np.zeros(1600), 16000)
    outside = json.loads(lines[0])
    outside["path"] = "../secret.wav"
    (root / MANIFEST_NAME).write_text("\n".join([json.dumps(outside), lines[1]]) + "\n")
    with pytest.raises(DataError, match=r"path '../secret.wav' points outside"):
        read_dataset(root)
    (root / MANIFEST_NAME).write_text("\n".join([lines[0], lines[0], lines[1]]) + "\n")
    with pytest.raises(DataError, match="twice"):
        read_dataset(root)
    (root / MANIFEST_NAME).write_text("\n".join(lines) + "\n")
    assert len(read_dataset(root)) == 2
