"""Run a source into a data set directory: shard, skip finished videos, fetch ahead, process, write, rebuild
the manifest."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from asmr_zoo.dataset import MANIFEST_NAME, PARTS_DIR, DatasetWriter, ManifestRow, SegmentAudio, parse_rows
from asmr_zoo.datasource import Segment
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.triggers import UNKNOWN
from asmr_zoo_sources.autolabel import CLASSIFIER, AutoLabeller, awaits_label, relabel_finished
from asmr_zoo_sources.base import Unit, UnitSource
from asmr_zoo_sources.processing import process_segment
from asmr_zoo_sources.workdir import WORK_DIR, run_folder, size_text, sweep
from asmr_zoo_sources.workers import RetryPolicy, check_workers, fetched_units

DEFAULT_SAMPLE_RATE = 16000
DEFAULT_MIN_SECONDS = 1.0
NO_TRIGGER_NOTE = "label names no known trigger"


@dataclass
class BuildReport:
    """What a run did, video by video."""

    processed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # finished by an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video id, message)
    written: int = 0  # segments with training audio and a trigger
    unlabelled_clips: int = 0  # segments with training audio and no trigger (under unlabelled/)
    classified: int = 0  # clips the classifier gave a trigger (--label auto)
    unlabelled: int = 0  # rows kept as unknown or dropped (too short, silent)
    no_trigger: int = 0  # of those, the rows kept without audio for lack of a trigger (--unlabelled writes them)
    rows: list[ManifestRow] = field(default_factory=list)  # the whole manifest after the run
    fresh: bool = False  # the run made ``out`` (it did not exist before)

    def count(self, rows: Sequence[ManifestRow]) -> None:
        """Add a processed video's rows to the counts."""
        self.written += sum(r.path is not None and r.trigger != UNKNOWN for r in rows)
        self.unlabelled_clips += sum(r.path is not None and r.trigger == UNKNOWN for r in rows)
        self.classified += sum(r.label_source == CLASSIFIER for r in rows)
        self.unlabelled += sum(r.path is None for r in rows)
        self.no_trigger += sum(r.path is None and r.note == NO_TRIGGER_NOTE for r in rows)

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


def check_sample_rate(sample_rate: int) -> int:
    """The training copies' sample rate: 1 to 192 kHz."""
    if sample_rate < 1000 or sample_rate > 192000:
        raise UsageError(f"--sample-rate {sample_rate} is out of range; use e.g. 16000")
    return sample_rate


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
        origin_reason=str(segment.extra.get("origin_reason", "")),
    )


@dataclass(frozen=True)
class Processing:
    """How segments become files: the training copies' rate and channels, what is kept."""

    sample_rate: int = DEFAULT_SAMPLE_RATE
    min_seconds: float = DEFAULT_MIN_SECONDS
    keep_master: bool = True
    channels: int = 1
    unlabelled: bool = False  # write the audio of segments without a trigger too (under unlabelled/)
    labeller: AutoLabeller | None = None  # label those clips with a classifier

    def awaits_audio(self, row: ManifestRow) -> bool:
        """A finished row that this run would give audio: one kept without it for lack of a trigger."""
        return self.unlabelled and row.trigger == UNKNOWN and row.path is None and row.note == NO_TRIGGER_NOTE


def _processed(
    video_id: str, segments: Iterable[Segment], item: str, how: Processing
) -> Iterator[tuple[ManifestRow, SegmentAudio | None]]:
    """The video's rows with their processed audio, one segment at a time (never a whole video in memory)."""
    count = 0
    for segment in segments:
        count += 1
        if segment.video_id != video_id:
            raise DataError(f"the source yielded a segment of video '{segment.video_id}' for '{video_id}'")
        row = _row(segment, item)
        if segment.trigger == UNKNOWN and (not how.unlabelled or segment.audio.size == 0):
            row.note = segment.extra.get("note", NO_TRIGGER_NOTE)
            yield row, None
            continue
        result = process_segment(
            segment.audio,
            segment.sample_rate,
            segment.start,
            how.sample_rate,
            how.min_seconds,
            how.keep_master,
            how.channels,
        )
        row.start, row.end, row.note = round(result.start, 3), round(result.end, 3), result.note
        if result.audio is not None and row.trigger == UNKNOWN and how.labeller is not None:
            how.labeller.label(row, result.audio.training, how.sample_rate)
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
    unlabelled: bool = False,
    labeller: AutoLabeller | None = None,
    workers: int = 1,
    retry: RetryPolicy = RetryPolicy(),
) -> BuildReport:
    """Materialise ``items`` of ``source`` under ``out``; one line per problem video, the others go on.
    ``channels``: of the training copies (1: mono downmix, 2: stereo); masters keep the source's.
    ``unlabelled``: write segments without a trigger too; ``labeller``: label those (implies ``unlabelled``).
    ``workers``: threads fetching videos ahead of the writer."""
    check_sample_rate(sample_rate)
    check_channels(channels)
    check_workers(workers)
    check_resume_channels(out, channels)
    how = Processing(sample_rate, min_seconds, keep_master, channels, unlabelled or labeller is not None, labeller)
    console = console or Console(stderr=True)
    writer = DatasetWriter(out, audio_format)
    report = BuildReport()

    def say(line: str) -> None:  # one plain line per problem: labels may hold [brackets] or any text
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    source.report = lambda message: say(f"warning: {message}")
    fresh = not Path(out).exists()  # a run that makes nothing of it leaves no folder behind
    units = [u for u in source.units(items) if in_shard(u.video_id, shard)]
    removed, freed = sweep(Path(out) / WORK_DIR)
    if removed:
        say(
            f"removed {removed} leftover download folder(s) of killed runs from {Path(out) / WORK_DIR}: "
            f"{size_text(freed)} freed"
        )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress, _run_folder(source):
        todo = _unfinished(units, writer, how, report, progress, say)
        task = progress.add_task(f"{source.name}: videos", total=len(todo))
        for number, fetched in enumerate(fetched_units(todo, workers, retry), 1):
            video_id = fetched.unit.video_id
            progress.update(task, description=f"{source.name}: {video_id}")
            try:
                rows = writer.write_video(video_id, _processed(video_id, fetched.segments(), fetched.unit.item, how))
            except DataError as exc:
                report.failed.append((video_id, str(exc)))
                if number < len(todo) or report.usable:  # else the run failed: its one error line says this
                    say(f"error: {video_id}: {exc}")
            else:
                report.processed.append(video_id)
                report.count(rows)
            finally:
                fetched.close()
            progress.advance(task)
    if report.usable or Path(out, PARTS_DIR).is_dir():
        report.rows = writer.finalise()
    elif fresh:  # only folders were made (the download folder): remove them
        prune_empty(Path(out))
    report.fresh = fresh
    return report


def prune_empty(root: Path) -> None:
    """Remove the empty folders under ``root`` and ``root`` itself if it ends up empty; a folder with anything in
    it (another run's files) stays."""
    for top, _, _ in sorted(os.walk(root), key=lambda entry: -len(Path(entry[0]).parts)):
        with contextlib.suppress(OSError):
            Path(top).rmdir()


def discard_run(out: Path, report: BuildReport) -> None:
    """Undo a run into a fresh ``out`` that wrote no clip (every segment dropped): its finished videos would be
    skipped by a rerun with other settings, so they, the manifest and the emptied folders go."""
    writer = DatasetWriter(out)
    for video_id in report.processed:
        writer.remove_video(video_id)
    if not any((Path(out) / PARTS_DIR).glob("*.jsonl")):
        (Path(out) / MANIFEST_NAME).unlink(missing_ok=True)
    prune_empty(Path(out))


def _unfinished(
    units: Sequence[Unit],
    writer: DatasetWriter,
    how: Processing,
    report: BuildReport,
    progress: Progress,
    say: Callable[[str], None],
) -> list[Unit]:
    """The units to process: not finished by an earlier run (nor listed twice), or finished with rows this
    run gives audio. The unlabelled clips of finished videos are classified here (with a labeller)."""
    todo, seen, relabel = [], set(), []
    for unit in units:
        rows = None if unit.video_id in seen else writer.finished_rows(unit.video_id)
        if unit.video_id not in seen and (rows is None or any(how.awaits_audio(row) for row in rows)):
            todo.append(unit)
        else:
            report.skipped.append(unit.video_id)
            if rows is not None and how.labeller is not None and any(awaits_label(row) for row in rows):
                relabel.append((unit.video_id, rows))
        seen.add(unit.video_id)
    if relabel and how.labeller is not None:
        task = progress.add_task("classifying the unlabelled clips of finished videos", total=len(relabel))
        for video_id, rows in relabel:
            try:
                report.classified += relabel_finished(writer, video_id, rows, how.labeller)
            except DataError as exc:  # an unreadable clip: the video stays as it was
                say(f"error: {video_id}: {exc}")
            progress.advance(task)
        progress.remove_task(task)
    return todo


@contextmanager
def _run_folder(source: UnitSource) -> Iterator[None]:
    """Give a downloading source its own locked folder under its ``workdir`` for the run."""
    work = source.workdir
    if work is None:
        yield
        return
    with run_folder(Path(work)) as folder:
        source.workdir = folder
        try:
            yield
        finally:
            source.workdir = work
