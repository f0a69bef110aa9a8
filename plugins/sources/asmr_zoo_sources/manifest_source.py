"""The ``manifest`` source: CSV rows ``video_id, start, end[, label]`` (the YouTube-ASMR-300K style).

Lines starting with ``#`` are comments, and rows before the first data row whose start and end are not
numbers are header rows (``video_id,start,end``); times are seconds. A row's label maps through the
taxonomy; rows without one take the source's ``trigger`` (or stay unknown: without audio, or with
``unlabelled=True`` cut as ``unknown`` clips). Audio comes from ``<audio_dir>/<video_id>.<ext>`` (any format
ffmpeg reads) or, with ``download=True``, from YouTube through the ``youtube`` source's downloader.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asmr_zoo.datasource import Segment
from asmr_zoo.errors import DataError
from asmr_zoo.triggers import UNKNOWN, normalise_trigger, validate_trigger_name
from asmr_zoo_sources.base import Unit, UnitSource, cut, raiser, unlabelled
from asmr_zoo_sources.ffmpeg import fetched_audio

VIDEO_ID = re.compile(r"(?!.*\.\.)[A-Za-z0-9_.-]+")  # a YouTube id or a file stem under --audio-dir

MEDIA_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus", ".webm", ".mp4", ".mkv", ".aac")


@dataclass(frozen=True)
class ManifestEntry:
    video_id: str
    start: float
    end: float
    label: str


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_rows(path: Path) -> tuple[list[ManifestEntry], list[str]]:
    """The rows of a manifest CSV and one message per malformed row."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"manifest {path} could not be read ({exc})") from exc
    rows, problems = [], []
    reader = csv.reader(text.splitlines())
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field over the csv module's size limit, a stray quote
            raise DataError(f"manifest {path} line {reader.line_num} is not CSV ({exc})") from None
        number = reader.line_num
        fields = [f.strip() for f in fields]
        if not fields or not fields[0] or fields[0].startswith("#"):
            continue
        if not rows and len(fields) >= 3 and not any(map(_is_number, fields[1:3])):
            continue  # a header row: video_id, start, end[, label]
        try:
            if len(fields) < 3:
                raise ValueError("expected video_id, start, end[, label]")
            start, end = float(fields[1]), float(fields[2])
        except ValueError as exc:
            problems.append(f"{path} line {number}: {exc}")
            continue
        if not 0 <= start < end:
            problems.append(f"{path} line {number}: start {start} and end {end} do not make a segment")
            continue
        if not VIDEO_ID.fullmatch(fields[0]):  # it names a file under --audio-dir: no "/", "\\" or ".."
            problems.append(f"{path} line {number}: video id {fields[0]!r} may hold only letters, digits, - _ .")
            continue
        rows.append(ManifestEntry(fields[0], start, end, ",".join(fields[3:]).strip()))
    return rows, problems


class ManifestSource(UnitSource):
    """Segments listed in CSV manifests, cut from local audio files or downloaded videos."""

    name = "manifest"
    description = "CSV rows video_id, start, end[, label] (YouTube-ASMR-300K style)"

    def __init__(
        self,
        audio_dir: Path | None = None,
        trigger: str | None = None,
        download: bool = False,
        workdir: Path | None = None,
        unlabelled: bool = False,
        ydl_params: dict[str, Any] | None = None,
    ) -> None:
        """``unlabelled``: cut rows without a trigger too (as ``unknown``); ``ydl_params``: for downloads."""
        super().__init__()
        self.audio_dir = Path(audio_dir) if audio_dir is not None else None
        self.trigger = validate_trigger_name(trigger) if trigger else None
        self.download = download
        self.workdir = Path(workdir) if workdir is not None else None
        self.unlabelled = unlabelled
        self.ydl_params = dict(ydl_params or {})

    def units(self, items: Sequence[str]) -> Iterator[Unit]:
        read: list[tuple[str, list[ManifestEntry] | DataError]] = []
        for item in items:
            try:
                rows, problems = read_rows(Path(item))
            except DataError as exc:
                read.append((item, exc))
                continue
            for problem in problems:
                self.report(problem)
            if not rows:  # nothing to cut is an error of that file, not an empty success
                bad = f" ({len(problems)} malformed, see the warnings)" if problems else ""
                rows = DataError(f"manifest {item} lists no segments{bad}: rows are video_id, start, end[, label]")
            read.append((item, rows))
        self._check_labels([row for _, rows in read if not isinstance(rows, DataError) for row in rows])
        for item, rows in read:
            if isinstance(rows, DataError):
                yield Unit(Path(item).name, item, raiser(rows))
                continue
            by_video: dict[str, list[ManifestEntry]] = {}
            for row in rows:
                by_video.setdefault(row.video_id, []).append(row)
            for video_id, video_rows in by_video.items():
                yield Unit(video_id, item, lambda v=video_id, r=video_rows: self._load(v, r))

    def _trigger(self, row: ManifestEntry) -> str:
        return normalise_trigger(row.label) if row.label else self.trigger or UNKNOWN

    def _check_labels(self, rows: list[ManifestEntry]) -> None:
        """Refuse a run that would write nothing because no row names a trigger (a label-less 300K list)."""
        if rows and not self.unlabelled and all(self._trigger(row) == UNKNOWN for row in rows):
            raise DataError(
                f"none of the {len(rows)} manifest rows has a label naming a known trigger, so no clip would be "
                f"written; pass --trigger NAME (the trigger of rows without a label), --unlabelled (keep them as "
                f"unlabelled clips) or --label auto --classifier-data DIR (label them with a classifier)"
            )

    def _media(self, video_id: str, tmp: Path) -> Path:
        if self.audio_dir is not None:
            for suffix in MEDIA_SUFFIXES:
                candidate = self.audio_dir / f"{video_id}{suffix}"
                if candidate.is_file():
                    return candidate
        if not self.download:
            where = f"in {self.audio_dir}" if self.audio_dir else "(no --audio-dir given)"
            raise DataError(f"no audio file {video_id}.<wav|flac|m4a|...> {where}; pass --download to fetch it")
        from asmr_zoo_sources.youtube import YouTubeSource

        youtube = YouTubeSource(workdir=self.workdir, ydl_params=self.ydl_params)
        return youtube.download_audio(youtube.fetch_info(f"https://www.youtube.com/watch?v={video_id}"), tmp)

    def _load(self, video_id: str, rows: list[ManifestEntry]) -> Iterator[Segment]:
        """The rows' segments; the audio is fetched before the first (see ``UnitSource``)."""
        labelled = [(row, self._trigger(row)) for row in rows]
        if not self.unlabelled and all(trigger == UNKNOWN for _, trigger in labelled):
            for row, _ in labelled:
                yield unlabelled(video_id, row.label, row.start, row.end, "manifest")
            return
        with fetched_audio(self.workdir, lambda tmp: self._media(video_id, tmp)) as wav:
            duration = wav.frames / wav.samplerate
            for row, trigger in labelled:
                if trigger == UNKNOWN and not self.unlabelled:
                    yield unlabelled(video_id, row.label, row.start, row.end, "manifest")
                elif row.start >= duration:
                    self.report(
                        f"{video_id}: row {row.start}-{row.end} s starts after the audio ends "
                        f"({duration:.1f} s); skipped"
                    )
                else:
                    label = row.label or self.trigger or ""  # a row without a label or --trigger: none
                    yield cut(wav, row.start, min(row.end, duration), trigger, label, video_id, "manifest")
