"""``asmr-zoo data``: build labelled data sets from sources, and summarise them.

Command bodies import the heavy modules (numpy, soundfile, yt-dlp) themselves, so ``asmr-zoo --help``
stays fast and torch-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from asmr_zoo.errors import DataError, UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from asmr_zoo_sources.autolabel import AutoLabeller
    from asmr_zoo_sources.base import UnitSource

data_app = typer.Typer(
    help="Build labelled training sets: YouTube timestamps, folders, manifests, a synthetic corpus; merge them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

OUT = typer.Option(..., "--out", "-o", help="Data set directory (created; reruns resume).")
SAMPLE_RATE = typer.Option(16000, "--sample-rate", help="Sample rate of the training copies (Hz).")
SHARD = typer.Option(None, "--shard", help="Process only shard i of n (e.g. 2/8): split a list across jobs.")
FORMAT = typer.Option("wav", "--format", help="Training copy format: wav or flac (16-bit).")
MIN_SECONDS = typer.Option(1.0, "--min-seconds", help="Drop segments shorter than this after trimming silence.")
CHANNELS = typer.Option(
    1, "--channels", help="Training copies: 1 (mono downmix) or 2 (stereo; mono sources in both channels)."
)
UNLABELLED = typer.Option(
    False, "--unlabelled", help="Also write segments without a trigger, under OUT/unlabelled/ (trigger 'unknown')."
)
LABEL = typer.Option(
    "source", "--label", help="'source': the source's labels; 'auto': label unlabelled clips with a classifier."
)
CLASSIFIER_DATA = typer.Option(
    None, "--classifier-data", help="With --label auto: a labelled data set to fit the trigger classifier on."
)
MIN_CONFIDENCE = typer.Option(
    None, "--min-confidence", help="With --label auto: below this probability a clip stays unlabelled (default 0.8)."
)
WORKERS = typer.Option(1, "--workers", help="Videos downloaded in parallel (cutting and writing stay in one thread).")


@dataclass(frozen=True)
class Labelling:
    """``--unlabelled``, ``--label``, ``--classifier-data``, ``--min-confidence``, checked."""

    unlabelled: bool = False
    classifier_data: Path | None = None
    min_confidence: float = 0.8

    @classmethod
    def of(cls, unlabelled: bool, label: str, classifier_data: Path | None, min_confidence: float | None) -> Labelling:
        from asmr_zoo_sources.autolabel import DEFAULT_MIN_CONFIDENCE, check_min_confidence

        if label not in ("source", "auto"):
            raise UsageError(
                f"--label must be 'source' (the source's labels) or 'auto' (a classifier's), not '{label}'"
            )
        if label == "auto" and classifier_data is None:
            raise UsageError(
                "--label auto needs --classifier-data DIR: a labelled data set to fit the classifier on, "
                "e.g. one made by `asmr-zoo data synth --out DIR`"
            )
        for given, name in ((classifier_data, "--classifier-data"), (min_confidence, "--min-confidence")):
            if label == "source" and given is not None:
                raise UsageError(f"{name} is used by --label auto only; add --label auto, or drop it")
        confidence = check_min_confidence(DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence)
        return cls(unlabelled or label == "auto", classifier_data, confidence)

    def labeller(self) -> AutoLabeller | None:
        """The classifier fitted on ``classifier_data`` (with a progress bar), or None."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from asmr_zoo_sources.autolabel import AutoLabeller

        if self.classifier_data is None:
            return None
        columns = (TextColumn(f"fitting the trigger classifier on {self.classifier_data}"), BarColumn())
        with Progress(*columns, MofNCompleteColumn(), console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("", total=None)
            return AutoLabeller.fit(
                self.classifier_data,
                self.min_confidence,
                lambda done, total: bar.update(task, completed=done, total=total),
            )


def _run(
    source: UnitSource,
    items: list[str],
    out: Path,
    sample_rate: int,
    shard: str | None,
    audio_format: str,
    min_seconds: float,
    channels: int = 1,
    labelling: Labelling = Labelling(),
    workers: int = 1,
) -> None:
    from asmr_zoo_sources.build import build_dataset, discard_run, parse_shard
    from asmr_zoo_sources.workers import check_workers

    if min_seconds < 0:
        raise UsageError("--min-seconds must not be negative")
    check_workers(workers)
    shard_range = parse_shard(shard)  # the cheap checks come before the classifier is fitted
    report = build_dataset(
        source,
        items,
        out,
        sample_rate=sample_rate,
        audio_format=audio_format,
        shard=shard_range,
        min_seconds=min_seconds,
        channels=channels,
        unlabelled=labelling.unlabelled,
        labeller=labelling.labeller(),
        workers=workers,
    )
    total = len(report.processed) + len(report.skipped) + len(report.failed)
    if total == 0:
        typer.echo(f"no videos to process{' in shard ' + shard if shard else ''}")
        return
    clips = f" ({report.unlabelled_clips} unlabelled)" if labelling.unlabelled else ""
    classified = f", {report.classified} labelled by the classifier" if labelling.classifier_data else ""
    typer.echo(
        f"{len(report.processed)} processed, {len(report.skipped)} already done, "
        f"{len(report.failed)} failed; {report.written + report.unlabelled_clips} segments written{clips}"
        f"{classified}, {report.unlabelled} kept as unknown or dropped"
        + (f" -> {out / 'manifest.jsonl'}" if report.usable else "")
    )
    if not report.usable:  # the last failure was not printed (build_dataset): this line says it
        video_id, message = report.failed[-1]
        others = f"all {len(report.failed)} videos failed (the others above); " if len(report.failed) > 1 else ""
        raise DataError(f"nothing could be processed: {others}{video_id}: {message}")
    if report.processed and report.written + report.unlabelled_clips == 0 and report.no_trigger:
        raise DataError(
            f"no clip was written: the {report.no_trigger} segments of the {len(report.processed)} video(s) processed "
            f"name no known trigger (they are kept in the manifest as unknown); rerun with --unlabelled to write "
            f"them as unlabelled clips, or --label auto --classifier-data DIR to label them with a classifier"
        )
    if report.processed and report.written + report.unlabelled_clips == 0:
        notes = sorted({row.note for row in report.rows if row.path is None and row.note})
        if report.fresh:  # else a rerun with other settings would skip these videos as finished
            discard_run(out, report)
        raise DataError(
            f"no clip was written: all {report.unlabelled} segments of the {len(report.processed)} video(s) "
            f"processed were dropped ({'; '.join(notes) or 'no audio'}); give longer or louder recordings, or "
            f"lower --min-seconds"
        )


@data_app.command("youtube")
def youtube(
    sources: list[str] = typer.Argument(..., help="Video URLs, video ids or saved yt-dlp info JSON files."),
    out: Path = OUT,
    comments: bool = typer.Option(False, "--comments", help="Also read timestamps from the comments."),
    sample_rate: int = SAMPLE_RATE,
    shard: str | None = SHARD,
    audio_format: str = FORMAT,
    min_seconds: float = MIN_SECONDS,
    channels: int = CHANNELS,
    unlabelled: bool = UNLABELLED,
    label: str = LABEL,
    classifier_data: Path | None = CLASSIFIER_DATA,
    min_confidence: float | None = MIN_CONFIDENCE,
    workers: int = WORKERS,
) -> None:
    """Cut timestamped ASMR videos into labelled segments (chapters, then description, then comments)."""
    from asmr_zoo_sources.unlabelled import UnlabelledYouTubeSource
    from asmr_zoo_sources.workers import RetryPolicy, ydl_params
    from asmr_zoo_sources.youtube import YouTubeSource

    labelling = Labelling.of(unlabelled, label, classifier_data, min_confidence)
    kind = UnlabelledYouTubeSource if labelling.unlabelled else YouTubeSource
    source = kind(comments=comments, workdir=out / ".work", ydl_params=ydl_params(RetryPolicy()))
    _run(source, sources, out, sample_rate, shard, audio_format, min_seconds, channels, labelling, workers)


@data_app.command("synth")
def synth(
    out: Path = OUT,
    triggers: str = typer.Option("all", "--triggers", help="Comma-separated trigger names, or 'all'."),
    minutes: float = typer.Option(1.0, "--minutes", help="Minutes of audio per trigger."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same corpus."),
    channels: int = typer.Option(
        None,
        "--channels",
        help="1: mono; 2: moving stereo masters and stereo training copies "
        "(default: stereo masters, mono training copies).",
    ),
    clip_seconds: float = typer.Option(
        30.0, "--clip-seconds", help="Length of each synthetic 'video'; shorter means more, varied videos."
    ),
    sample_rate: int = SAMPLE_RATE,
    audio_format: str = FORMAT,
) -> None:
    """Generate the procedural, license-free demo corpus."""
    from asmr_zoo_sources.build import check_channels, check_sample_rate
    from asmr_zoo_sources.synthetic import SyntheticSource

    names = [t.strip() for t in triggers.split(",") if t.strip()]
    training = 1 if channels is None else check_channels(channels)
    check_sample_rate(sample_rate)  # every setting is checked before the settings record is written
    source = SyntheticSource(minutes=minutes, seed=seed, channels=channels or 2, clip_seconds=clip_seconds)
    source.triggers(names)  # an unknown trigger is the error to report first
    # --channels is checked against the finished videos by the build itself (check_resume_channels)
    _check_synth_settings(
        out, {"minutes": minutes, "seed": seed, "clip_seconds": clip_seconds, "sample_rate": sample_rate}
    )
    _run(
        source,
        names,
        out,
        sample_rate,
        None,
        audio_format,
        1.0,
        training,
    )


SYNTH_SETTINGS = ".synth.json"


def _check_synth_settings(out: Path, settings: dict[str, Any]) -> None:
    """A rerun of ``data synth`` into ``out`` resumes its videos as they are, so it must use the settings that
    made them: record them in a fresh folder, refuse others (older folders without the record are resumed)."""
    from asmr_zoo.checkpoints import atomic_write
    from asmr_zoo.dataset import MANIFEST_NAME, PARTS_DIR

    record = out / SYNTH_SETTINGS
    if record.is_file():
        try:
            made = json.loads(record.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{record} is unreadable ({exc}); delete it, or build into another --out") from None
        changed = [k for k, v in settings.items() if made.get(k) != v]
        if changed:
            was = " ".join(f"--{k.replace('_', '-')} {made.get(k)}" for k in changed)
            raise DataError(
                f"{out} was made by `data synth` with {was}, and a rerun keeps its videos as they are: "
                f"rerun with those settings, or build into another --out"
            )
    elif not (out / MANIFEST_NAME).exists() and not (out / PARTS_DIR).exists():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(record, lambda tmp: tmp.write_text(json.dumps(settings, sort_keys=True)))


@data_app.command("folder")
def folder(
    dirs: list[Path] = typer.Argument(..., help="Folders holding <trigger>/*.wav|flac."),
    out: Path = OUT,
    sample_rate: int = SAMPLE_RATE,
    shard: str | None = SHARD,
    audio_format: str = FORMAT,
    min_seconds: float = MIN_SECONDS,
    channels: int = CHANNELS,
) -> None:
    """Import recordings sorted into one folder per trigger."""
    from asmr_zoo_sources.folder import FolderSource

    _run(FolderSource(), [str(d) for d in dirs], out, sample_rate, shard, audio_format, min_seconds, channels)


@data_app.command("manifest")
def manifest(
    csvs: list[Path] = typer.Argument(..., help="CSV files: video_id, start, end[, label]."),
    out: Path = OUT,
    audio_dir: Path | None = typer.Option(None, "--audio-dir", help="Where <video_id>.<ext> audio files are."),
    trigger: str | None = typer.Option(None, "--trigger", help="Trigger for rows without a label."),
    download: bool = typer.Option(False, "--download", help="Download videos missing from --audio-dir."),
    sample_rate: int = SAMPLE_RATE,
    shard: str | None = SHARD,
    audio_format: str = FORMAT,
    min_seconds: float = MIN_SECONDS,
    channels: int = CHANNELS,
    unlabelled: bool = UNLABELLED,
    label: str = LABEL,
    classifier_data: Path | None = CLASSIFIER_DATA,
    min_confidence: float | None = MIN_CONFIDENCE,
    workers: int = WORKERS,
) -> None:
    """Cut segments listed in YouTube-ASMR-300K-style CSV manifests."""
    from asmr_zoo_sources.manifest_source import ManifestSource
    from asmr_zoo_sources.workers import RetryPolicy, ydl_params

    labelling = Labelling.of(unlabelled, label, classifier_data, min_confidence)
    source = ManifestSource(
        audio_dir=audio_dir,
        trigger=trigger,
        download=download,
        workdir=out / ".work",
        unlabelled=labelling.unlabelled,
        ydl_params=ydl_params(RetryPolicy()),
    )
    items = [str(c) for c in csvs]
    _run(source, items, out, sample_rate, shard, audio_format, min_seconds, channels, labelling, workers)


@data_app.command("merge")
def merge(
    roots: list[Path] = typer.Argument(..., help="Data set directories to combine (e.g. shard outputs)."),
    out: Path = typer.Option(..., "--out", "-o", help="The merged data set (created; must not exist or be empty)."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out."),
) -> None:
    """Combine data sets into one: rows de-duplicated, clips hard-linked or copied, the split by video redone."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from asmr_zoo_sources.merge import merge_datasets

    columns = (TextColumn("merging"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=None)
        report = merge_datasets(roots, out, force, lambda done, total: bar.update(task, completed=done, total=total))
    typer.echo(report.summary())


@data_app.command("stats")
def stats(
    root: Path = typer.Argument(..., help="A data set directory (with manifest.jsonl)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    spatial: bool = typer.Option(
        False,
        "--spatial",
        help="Also measure the stereo clips (ILD, ITD, coherence, side/mid, dual mono): reads every stereo file.",
    ),
) -> None:
    """Minutes per trigger, videos, the train/test split; with --spatial, the stereo image of each trigger."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from asmr_zoo_sources.stats import summarise

    if spatial:
        columns = (TextColumn("measuring stereo"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("", total=None)
            summary = summarise(root, True, lambda done, total: bar.update(task, completed=done, total=total))
    else:
        summary = summarise(root)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"{root} ({summary['videos']} videos)")
    for column in ("trigger", "segments", "minutes", "videos", "train videos", "test videos"):
        table.add_column(column, justify="left" if column == "trigger" else "right", no_wrap=True)
    for name, row in summary["triggers"].items():
        table.add_row(
            name,
            str(row["segments"]),
            f"{row['minutes']:.2f}",
            str(row["videos"]),
            str(row["train_videos"]),
            str(row["test_videos"]),
        )
    Console().print(table)
    typer.echo(f"unknown or dropped: {summary['unlabelled']} rows")
    stereo = {name: row["spatial"] for name, row in summary["triggers"].items() if row.get("spatial")}
    if stereo:
        Console().print(_spatial_table(stereo))
    elif spatial:
        typer.echo("stereo: none (every training copy and master is mono)")


def _spatial_table(sections: dict[str, dict[str, Any]]) -> Table:
    """Per trigger: stereo clips, dual-mono share, and the spread of the frames' ILD, ITD, coherence, side/mid.
    A column no trigger measured is left out (ILD >2 kHz when every clip's Nyquist frequency is under 2 kHz)."""
    from rich.table import Table

    columns = {"ILD dB": ("ild_db", 1), "ILD >2 kHz dB": ("ild_high_db", 1), "ITD µs": ("itd_us", 0)}
    columns |= {"coherence": ("coherence", 2), "side/mid dB": ("side_mid_db", 1)}
    columns = {c: spec for c, spec in columns.items() if any(s[spec[0]] is not None for s in sections.values())}
    table = Table(title="stereo (active frames: mean ± std)")
    for column in ("trigger", "stereo clips", "dual mono", *columns):
        table.add_column(column, justify="left" if column == "trigger" else "right", no_wrap=True)

    def spread(stat: dict[str, float] | None, digits: int) -> str:
        return "" if stat is None else " ± ".join(f"{round(stat[k], digits) + 0.0:.{digits}f}" for k in ("mean", "std"))

    for name, s in sections.items():
        share = s["dual_mono_share"]
        cells = [spread(s[key], digits) for key, digits in columns.values()]
        table.add_row(name, str(s["clips"]), "" if share is None else f"{share:.0%}", *cells)
    return table
