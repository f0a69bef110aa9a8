"""The ``folder`` source: ``<dir>/<trigger>/*.wav|flac|ogg``, one recording per file.

A folder's name is mapped through the taxonomy (``tapping_glass``, ``glass tapping`` and
``Tapping on a wine glass`` all work); files in a folder that names no trigger are kept as unknown.
Each file counts as one video for the train/test split.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import soundfile as sf

from asmr_zoo.datasource import Segment
from asmr_zoo.errors import DataError
from asmr_zoo.triggers import UNKNOWN, normalise_trigger
from asmr_zoo_sources.base import Unit, UnitSource, cut, raiser, unlabelled

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def _load_file(path: Path, folder: str, video_id: str) -> Iterator[Segment]:
    trigger = normalise_trigger(folder)
    try:
        with sf.SoundFile(str(path)) as wav:
            if wav.frames == 0:
                raise DataError(f"{path} contains no audio samples")
            duration = wav.frames / wav.samplerate
            if trigger == UNKNOWN:
                yield unlabelled(
                    video_id,
                    folder,
                    0.0,
                    duration,
                    "folder",
                    note=f"folder name '{folder}' names no known trigger",
                )
            else:
                yield cut(wav, 0.0, duration, trigger, folder, video_id, "folder")
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise DataError(f"{path} is not a readable audio file ({' '.join(str(exc).split())})") from exc


class FolderSource(UnitSource):
    """Recordings sorted into one folder per trigger."""

    name = "folder"
    description = "audio files in <dir>/<trigger>/ folders"

    def units(self, items: Sequence[str]) -> Iterator[Unit]:
        found: list[tuple[str, list[Path]]] = []
        for item in items:
            root = Path(item)
            files = (
                sorted(p for p in root.glob("*/*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
                if root.is_dir()
                else []
            )
            found.append((item, files))
        ids = Counter(_base_id(path) for _, files in found for path in files)
        for item, files in found:
            if not files:
                root = Path(item)
                yield Unit(
                    root.name or item,
                    item,
                    raiser(DataError(f"no audio files found in {root}: expected {root}/<trigger>/*.wav or *.flac")),
                )
            for path in files:
                video_id = _base_id(path)
                if ids[video_id] > 1:  # take.wav + take.flac, a-x/y.wav + a/x-y.wav, one path in two roots
                    video_id += "-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
                yield Unit(video_id, str(path), lambda p=path, v=video_id: _load_file(p, p.parent.name, v))


def _base_id(path: Path) -> str:
    """``<folder>-<file stem>``: the video id of a file, unless another file of the run derives the same."""
    return f"{path.parent.name}-{path.stem}"
