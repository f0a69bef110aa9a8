"""A labelled data set on disk, as the data sources write it and the training code reads it.

Layout under a root directory::

    <root>/<trigger>/<video>_<start_ms>_<end_ms>.wav   training copy: mono, 16-bit, the model's rate
    <root>/unlabelled/<same name>.wav                  training copy of a segment with no trigger (``unknown``)
    <root>/masters/<trigger>/<same name>.flac          master: source channels and rate, 24-bit FLAC
    <root>/manifest.jsonl                              one JSON object per segment (ManifestRow)
    <root>/.parts/<video>.jsonl                        the rows of each finished video (resume markers)

Every file is written atomically (temp file, then rename). A video counts as finished once its part
file exists and all its audio files do, so a killed run resumes where it stopped and leaves no
half-written file. ``manifest.jsonl`` is rebuilt from the parts, with the train/test split by video,
at the end of each run; runs on several machines (``--shard i/n``) may share one root.

Rows whose label maps to no trigger (intros, talking, unknown labels) or whose audio was dropped (too
short, silent) stay in the manifest with ``path`` null and a ``note``; ``read_dataset`` skips them. Runs
with ``--unlabelled`` write the audio of rows without a trigger too, under ``unlabelled/`` (trigger
``unknown``, for unconditioned training); ``read_dataset`` skips those as well.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.triggers import UNKNOWN
from asmr_zoo.validation import load_json

MANIFEST_NAME = "manifest.jsonl"
PARTS_DIR = ".parts"
MASTERS_DIR = "masters"
UNLABELLED_DIR = "unlabelled"  # the folder of training copies (and masters) whose trigger is unknown
SPLITS = ("train", "test")
TEST_FRACTION = 0.2
AUDIO_FORMATS = ("wav", "flac")

_SAFE_RE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class ManifestRow:
    """One line of ``manifest.jsonl``. Times are seconds in the source recording."""

    video_id: str
    trigger: str  # a taxonomy name, or "unknown"
    raw_label: str  # the label as written (chapter title, description line, folder name ...)
    start: float  # start of the written audio (after silence trimming)
    end: float | None  # end of the written audio; null only for an unknown row of unknown length
    origin: str  # chapter / description / comment / folder / manifest / synthetic
    path: str | None = None  # training copy, relative to the root; null when no audio was written
    sample_rate: int | None = None  # of the training copy
    channels: int | None = None  # of the training copy: 1 (mono) or 2 (stereo)
    master: str | None = None  # the master, relative to the root
    master_sample_rate: int | None = None
    master_channels: int | None = None
    label_start: float | None = None  # the labelled span, before trimming
    label_end: float | None = None
    source: str = ""  # the item it came from: URL, info JSON, file, CSV
    note: str = ""  # why no audio was written, if none was; why a classified clip stayed unknown
    split: str = "train"
    origin_reason: str = ""  # why the source took its labels from ``origin`` (e.g. the winning timestamp list)
    label_source: str = ""  # "" (the source's own label) or "classifier" (``--label auto``)
    label_confidence: float | None = None  # the classifier's probability of its best trigger, when it ran

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> ManifestRow:
        """A row from its JSON object; ValueError names the first field that is missing or of the wrong type."""
        if not isinstance(data, dict):
            raise ValueError("a row must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [n for n in required if n not in data]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)}")
        row = cls(**{k: v for k, v in data.items() if k in names})
        row.check()
        return row

    def check(self) -> None:
        """Refuse field values of the wrong type or out of range (as a hand-edited or damaged line has them)."""
        from asmr_zoo.triggers import validate_trigger_name
        from asmr_zoo.validation import is_int, is_number

        checks = {  # the annotations' base types: a string, a count or rate, a time (or a probability)
            "str": ("a string", lambda v: isinstance(v, str)),
            "int": ("a positive integer", lambda v: is_int(v) and v > 0),
            "float": ("a finite number >= 0", lambda v: is_number(v) and v >= 0),
        }
        for spec in dataclasses.fields(self):
            value, kind = getattr(self, spec.name), str(spec.type)
            want, ok = checks[kind.split(" ")[0]]
            if not (ok(value) or (value is None and kind.endswith("| None"))):
                raise ValueError(f"'{spec.name}' must be {want}{' or null' * kind.endswith('| None')}, got {value!r}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"'end' {self.end} is before 'start' {self.start}")
        if self.split not in SPLITS:
            raise ValueError(f"'split' must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.trigger != UNKNOWN:
            try:
                validate_trigger_name(self.trigger)
            except UsageError as exc:
                raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class DatasetRow:
    """A training-ready segment: what ``read_dataset`` returns."""

    path: Path  # absolute path of the mono training copy
    trigger: str
    split: str  # "train" or "test"
    sample_rate: int
    video_id: str
    start: float
    end: float
    origin: str
    raw_label: str = ""
    master: Path | None = None


@dataclass
class SegmentAudio:
    """The audio of one processed segment: the training copy ``(1, n)`` and the master ``(c, m)``."""

    training: np.ndarray
    sample_rate: int
    master: np.ndarray | None = None
    master_sample_rate: int | None = None


def safe_name(video_id: str) -> str:
    """A file-name-safe form of ``video_id`` (YouTube ids are kept as they are; others get a hash)."""
    cleaned = _SAFE_RE.sub("-", video_id)[:80]
    if cleaned == video_id and cleaned:
        return cleaned
    return f"{cleaned}-{hashlib.sha1(video_id.encode()).hexdigest()[:8]}"


def segment_stem(video_id: str, start: float, end: float) -> str:
    """``<video>_<start_ms>_<end_ms>``: the file name of a segment, without extension."""
    return f"{safe_name(video_id)}_{round(start * 1000)}_{round(end * 1000)}"


def audio_paths(trigger: str, stem: str, audio_format: str) -> tuple[str, str]:
    """The training copy and master of a segment, relative to the root: ``unknown`` goes under ``unlabelled/``."""
    folder = UNLABELLED_DIR if trigger == UNKNOWN else trigger
    return f"{folder}/{stem}.{audio_format}", f"{MASTERS_DIR}/{folder}/{stem}.flac"


class DatasetWriter:
    """Writes finished videos into a data set root and rebuilds its manifest."""

    def __init__(self, root: Path, audio_format: str = "wav") -> None:
        if audio_format not in AUDIO_FORMATS:
            raise DataError(f"audio format '{audio_format}' is not supported; use one of: {', '.join(AUDIO_FORMATS)}")
        self.root = Path(root)
        self.audio_format = audio_format

    def _part(self, video_id: str) -> Path:
        return self.root / PARTS_DIR / f"{safe_name(video_id)}.jsonl"

    def finished_rows(self, video_id: str) -> list[ManifestRow] | None:
        """The rows of ``video_id`` if an earlier run finished it (its part file and audio files all exist)."""
        part = self._part(video_id)
        if not part.is_file():
            return None
        try:
            rows = parse_rows(part)
        except DataError:
            return None
        files = [rel for row in rows for rel in (row.path, row.master) if rel is not None]
        return rows if all((self.root / rel).is_file() for rel in files) else None

    def is_done(self, video_id: str) -> bool:
        """Whether ``video_id`` was finished by an earlier run."""
        return self.finished_rows(video_id) is not None

    def write_part(self, video_id: str, rows: Sequence[ManifestRow]) -> None:
        """Write the rows of a video whose audio files are all in place: the video is finished."""
        from asmr_zoo.checkpoints import atomic_write

        text = "".join(row.to_json() + "\n" for row in rows)
        atomic_write(self._part(video_id), lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def move_to_trigger_folder(self, row: ManifestRow) -> None:
        """Move the audio files of a row whose trigger changed into that trigger's folders (the part is the
        caller's to rewrite)."""
        assert row.path is not None
        path, master = audio_paths(row.trigger, Path(row.path).stem, Path(row.path).suffix.lstrip("."))
        for field, new in (("path", path), ("master", master)):
            old = getattr(row, field)
            if old is not None and old != new:
                (self.root / new).parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.root / old, self.root / new)
                setattr(row, field, new)

    def write_video(
        self, video_id: str, segments: Iterable[tuple[ManifestRow, SegmentAudio | None]]
    ) -> list[ManifestRow]:
        """Write each segment's audio (when given), then the video's part file: the video is finished. When a
        segment fails, the files already written for the video are removed (it is redone as a whole)."""
        from asmr_zoo.audio import write_audio

        rows, written = [], []
        try:
            for row, audio in segments:
                if row.video_id != video_id:
                    raise DataError(f"segment of video '{row.video_id}' written as part of video '{video_id}'")
                if audio is not None and row.end is not None:
                    stem = segment_stem(video_id, row.start, row.end)
                    path, master = audio_paths(row.trigger, stem, self.audio_format)
                    row.path = path
                    write_audio(self.root / row.path, audio.training, audio.sample_rate)
                    written.append(self.root / row.path)
                    row.sample_rate, row.channels = audio.sample_rate, int(audio.training.shape[0])
                    if audio.master is not None:
                        row.master = master
                        write_audio(self.root / row.master, audio.master, audio.master_sample_rate, subtype="PCM_24")
                        written.append(self.root / row.master)
                        row.master_sample_rate = audio.master_sample_rate
                        row.master_channels = int(audio.master.shape[0])
                rows.append(row)
            self.write_part(video_id, rows)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return rows

    def remove_video(self, video_id: str) -> None:
        """Remove a finished video: its part file and the audio files its rows name (``finalise`` then drops it
        from the manifest)."""
        for row in self.finished_rows(video_id) or []:
            for rel in (row.path, row.master):
                if rel is not None:
                    (self.root / rel).unlink(missing_ok=True)
        self._part(video_id).unlink(missing_ok=True)

    def finalise(self, test_fraction: float = TEST_FRACTION) -> list[ManifestRow]:
        """Merge all finished videos into ``manifest.jsonl`` with the split by video; return the rows."""
        from asmr_zoo.checkpoints import atomic_write

        rows: list[ManifestRow] = []
        parts = self.root / PARTS_DIR
        for part in sorted(parts.glob("*.jsonl")) if parts.is_dir() else ():
            rows.extend(parse_rows(part))
        rows.sort(key=lambda r: (r.video_id, r.start, r.trigger))
        splits = assign_splits(rows, test_fraction)
        for row in rows:
            row.split = splits[row.video_id]
        text = "".join(row.to_json() + "\n" for row in rows)
        atomic_write(self.root / MANIFEST_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return rows


def _score(video_id: str) -> float:
    """A stable pseudo-random number in [0, 1) per video."""
    return int(hashlib.sha256(video_id.encode()).hexdigest()[:13], 16) / 16**13


def assign_splits(rows: Sequence[ManifestRow], test_fraction: float = TEST_FRACTION) -> dict[str, str]:
    """The split of each video: deterministic (a hash of the video id), never by segment.

    Every trigger keeps at least one training video, and a trigger with two or more videos gets at least
    one test video where that does not take another trigger's last training video.
    """
    videos = sorted({row.video_id for row in rows}, key=_score)
    triggers_of: dict[str, set[str]] = defaultdict(set)
    videos_of: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.trigger != UNKNOWN and row.path is not None and row.trigger not in triggers_of[row.video_id]:
            triggers_of[row.video_id].add(row.trigger)
            videos_of[row.trigger].append(row.video_id)
    for trigger_videos in videos_of.values():
        trigger_videos.sort(key=_score)
    test = {v for v in videos if _score(v) < test_fraction}
    for trigger in sorted(videos_of):
        if all(v in test for v in videos_of[trigger]):
            test.discard(videos_of[trigger][-1])
    for trigger in sorted(videos_of):
        candidates = videos_of[trigger]
        if len(candidates) < 2 or any(v in test for v in candidates):
            continue
        for video in candidates:
            if all(any(o != video and o not in test for o in videos_of[t]) for t in triggers_of[video]):
                test.add(video)
                break
    return {v: "test" if v in test else "train" for v in videos}


def parse_rows(path: Path) -> list[ManifestRow]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} could not be read ({exc})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(ManifestRow.from_dict(load_json(line)))
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"{path} line {number} is not a valid manifest row ({exc}); rerun the `asmr-zoo data` "
                f"command that built it to rewrite the manifest"
            ) from exc
    return rows


def inside(root: Path, relative: str, where: str) -> Path:
    """``root / relative``, refused when it leaves ``root`` (``..``, an absolute path, a symlink out): a manifest
    may only name audio inside its own data set."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DataError(f"{where}: path '{relative}' points outside {root}; a data set's files must lie inside it")
    return path


def read_manifest(root: Path) -> list[ManifestRow]:
    """All rows of ``<root>/manifest.jsonl``, unknown ones included."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"data set directory {root} does not exist; build one with `asmr-zoo data synth --out {root}` "
            f"or `asmr-zoo data youtube ... --out {root}`"
        )
    manifest = root / MANIFEST_NAME
    if not manifest.is_file():
        raise DataError(
            f"{root} has no {MANIFEST_NAME}; build the data set with `asmr-zoo data ... --out {root}` "
            f"(rerunning an interrupted command finishes it)"
        )
    return parse_rows(manifest)


def read_dataset(root: Path) -> list[DatasetRow]:
    """The training-ready segments of a data set: known triggers with audio, absolute paths."""
    from asmr_zoo.triggers import validate_trigger_name

    root = Path(root).resolve()
    rows, seen = [], set()
    for row in read_manifest(root):
        if row.trigger == UNKNOWN or row.path is None:
            continue
        if row.path in seen:  # a repeated row would count its audio twice
            raise DataError(
                f"{root / MANIFEST_NAME} lists {row.path} twice; rerun the `asmr-zoo data` command that built it "
                f"to rewrite the manifest"
            )
        seen.add(row.path)
        try:
            validate_trigger_name(row.trigger)
        except UsageError as exc:
            raise DataError(f"{root / MANIFEST_NAME}: video '{row.video_id}': {exc}") from exc
        if row.split not in SPLITS or row.end is None or not row.sample_rate:
            raise DataError(
                f"{root / MANIFEST_NAME} has a malformed row for video '{row.video_id}' at {row.start} s; "
                f"rerun the `asmr-zoo data` command that built it"
            )
        path = inside(root, row.path, f"{root / MANIFEST_NAME}: video '{row.video_id}'")
        if not path.is_file():
            raise DataError(
                f"{path} is listed in {root / MANIFEST_NAME} but missing; rerun the `asmr-zoo data` command "
                f"that built the data set to restore it"
            )
        rows.append(
            DatasetRow(
                path=path,
                trigger=row.trigger,
                split=row.split,
                sample_rate=int(row.sample_rate),
                video_id=row.video_id,
                start=float(row.start),
                end=float(row.end),
                origin=row.origin,
                raw_label=row.raw_label,
                master=inside(root, row.master, f"{root / MANIFEST_NAME}: video '{row.video_id}'")
                if row.master
                else None,
            )
        )
    if not rows:
        raise DataError(
            f"{root / MANIFEST_NAME} has no segments with a known trigger; label the sources with trigger "
            f"names (see `asmr-zoo list`) or try `asmr-zoo data synth --out {root}`"
        )
    return rows
