"""Run a source into a data set directory: shard, skip finished videos, process, write, rebuild manifest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from asmr_zoo.dataset import PARTS_DIR, DatasetWriter, ManifestRow, SegmentAudio, parse_rows
from asmr_zoo.datasource import Segment
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.triggers import UNKNOWN
from asmr_zoo_sources.base import Unit, UnitSource
from asmr_zoo_sources.processing import process_segment

DEFAULT_SAMPLE_RATE = 16000
DEFAULT_MIN_SECONDS = 1.0


@dataclass
class BuildReport:
    """What a run did, video by video."""

    processed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # finished by an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video id, message)
    written: int = 0  # segments with training audio
    unlabelled: int = 0  # rows kept as unknown or dropped (too short, silent)
    rows: list[ManifestRow] = field(default_factory=list)  # the whole manifest after the run

    @property
    def usable(self) -> bool:
        """Whether any video is in the data set: the CLI exits non-zero otherwise."""
        return bool(self.processed or self.skipped)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (1-based, i <= n) -> ``(i, n)``."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise UsageError(f"--shard '{text}' is not of the form i/n with 1 <= i <= n, e.g. --shard 2/8")
    return int(match.group(1)), int(match.group(2))


def check_channels(channels: int) -> int:
    """The training copies' channels: 1 (mono) or 2 (stereo)."""
    if channels not in (1, 2):
        raise UsageError(f"--channels must be 1 (mono training copies) or 2 (stereo), not {channels}")
    return channels


def check_resume_channels(out: Path, channels: int) -> None:
    """Refuse to add ``channels``-channel training copies to a data set whose finished videos (their part files,
    which the manifest is built from) hold another channel count: a rerun resumes those as they are."""
    parts = Path(out) / PARTS_DIR
    found: set[int] = set()
    for part in sorted(parts.glob("*.jsonl")) if parts.is_dir() else ():
        try:
            found.update(row.channels for row in parse_rows(part) if row.path is not None and row.channels)
        except DataError:
            continue  # unreadable: not finished, so it is redone
    if found - {channels}:
        have = " and ".join(f"{c}-channel" for c in sorted(found))
        fix = f"rerun with --channels {found.pop()}, or " if len(found) == 1 else ""
        raise DataError(
            f"{out} holds {have} training copies, which a rerun keeps as they are; "
            f"{fix}build the {channels}-channel set into another --out"
        )


def in_shard(video_id: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``video_id`` belongs to shard ``i/n``: a stable hash, independent of the list's order."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha256(video_id.encode()).hexdigest(), 16) % count == index - 1


def _row(segment: Segment, item: str) -> ManifestRow:
    return ManifestRow(
        video_id=segment.video_id,
        trigger=segment.trigger,
        raw_label=segment.raw_label,
        start=round(segment.start, 3),
        end=round(segment.end, 3),
        origin=segment.origin,
        label_start=round(segment.start, 3),
        label_end=round(segment.end, 3),
        source=item,
    )


def _processed(
    unit: Unit, sample_rate: int, min_seconds: float, keep_master: bool, channels: int = 1
) -> Iterator[tuple[ManifestRow, SegmentAudio | None]]:
    """The unit's rows with their processed audio, one segment at a time (never a whole video in memory)."""
    count = 0
    for segment in unit.load():
        count += 1
        if segment.video_id != unit.video_id:
            raise DataError(f"the source yielded a segment of video '{segment.video_id}' for '{unit.video_id}'")
        row = _row(segment, unit.item)
        if segment.trigger == UNKNOWN:
            row.note = segment.extra.get("note", "label names no known trigger")
            yield row, None
            continue
        result = process_segment(
            segment.audio, segment.sample_rate, segment.start, sample_rate, min_seconds, keep_master, channels
        )
        row.start, row.end, row.note = round(result.start, 3), round(result.end, 3), result.note
        yield row, result.audio
    if count == 0:
        raise DataError("no segments found")


def build_dataset(
    source: UnitSource,
    items: Sequence[str],
    out: Path,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    audio_format: str = "wav",
    shard: tuple[int, int] | None = None,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    keep_master: bool = True,
    console: Console | None = None,
    channels: int = 1,
) -> BuildReport:
    """Materialise ``items`` of ``source`` under ``out``; one line per problem video, the others go on.
    ``channels``: of the training copies (1: mono downmix, 2: stereo); masters keep the source's."""
    if sample_rate < 1000 or sample_rate > 192000:
        raise UsageError(f"--sample-rate {sample_rate} is out of range; use e.g. 16000")
    check_channels(channels)
    check_resume_channels(out, channels)
    console = console or Console(stderr=True)
    writer = DatasetWriter(out, audio_format)
    report = BuildReport()

    def say(line: str) -> None:  # one plain line per problem: labels may hold [brackets] or any text
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    source.report = lambda message: say(f"warning: {message}")
    units = [u for u in source.units(items) if in_shard(u.video_id, shard)]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{source.name}: videos", total=len(units))
        for unit in units:
            progress.update(task, description=f"{source.name}: {unit.video_id}")
            if writer.is_done(unit.video_id):
                report.skipped.append(unit.video_id)
            else:
                try:
                    segments = _processed(unit, sample_rate, min_seconds, keep_master, channels)
                    rows = writer.write_video(unit.video_id, segments)
                except DataError as exc:
                    report.failed.append((unit.video_id, str(exc)))
                    say(f"error: {unit.video_id}: {exc}")
                else:
                    report.processed.append(unit.video_id)
                    report.written += sum(r.path is not None for r in rows)
                    report.unlabelled += sum(r.path is None for r in rows)
            progress.advance(task)
    if report.usable or Path(out, ".parts").is_dir():
        report.rows = writer.finalise()
    return report
