"""``asmr-zoo data``: build labelled data sets from sources, and summarise them.

Command bodies import the heavy modules (numpy, soundfile, yt-dlp) themselves, so ``asmr-zoo --help``
stays fast and torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from asmr_zoo.errors import DataError, UsageError

if TYPE_CHECKING:
    from asmr_zoo_sources.base import UnitSource

data_app = typer.Typer(
    help="Build labelled training sets: YouTube timestamps, folders, manifests, a synthetic corpus.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

OUT = typer.Option(..., "--out", "-o", help="Data set directory (created; reruns resume).")
SAMPLE_RATE = typer.Option(16000, "--sample-rate", help="Sample rate of the training copies (Hz).")
SHARD = typer.Option(None, "--shard", help="Process only shard i of n (e.g. 2/8): split a list across jobs.")
FORMAT = typer.Option("wav", "--format", help="Training copy format: wav or flac (16-bit).")
MIN_SECONDS = typer.Option(1.0, "--min-seconds", help="Drop segments shorter than this after trimming silence.")


def _run(
    source: UnitSource,
    items: list[str],
    out: Path,
    sample_rate: int,
    shard: str | None,
    audio_format: str,
    min_seconds: float,
) -> None:
    from asmr_zoo_sources.build import build_dataset, parse_shard

    if min_seconds < 0:
        raise UsageError("--min-seconds must not be negative")
    report = build_dataset(
        source,
        items,
        out,
        sample_rate=sample_rate,
        audio_format=audio_format,
        shard=parse_shard(shard),
        min_seconds=min_seconds,
    )
    total = len(report.processed) + len(report.skipped) + len(report.failed)
    if total == 0:
        typer.echo(f"no videos to process{' in shard ' + shard if shard else ''}")
        return
    typer.echo(
        f"{len(report.processed)} processed, {len(report.skipped)} already done, "
        f"{len(report.failed)} failed; {report.written} segments written, "
        f"{report.unlabelled} kept as unknown or dropped" + (f" -> {out / 'manifest.jsonl'}" if report.usable else "")
    )
    if not report.usable:
        raise DataError(f"nothing could be processed: all {len(report.failed)} videos failed (see the messages above)")


@data_app.command("youtube")
def youtube(
    sources: list[str] = typer.Argument(..., help="Video URLs, video ids or saved yt-dlp info JSON files."),
    out: Path = OUT,
    comments: bool = typer.Option(False, "--comments", help="Also read timestamps from the comments."),
    sample_rate: int = SAMPLE_RATE,
    shard: str | None = SHARD,
    audio_format: str = FORMAT,
    min_seconds: float = MIN_SECONDS,
) -> None:
    """Cut timestamped ASMR videos into labelled segments (chapters, then description, then comments)."""
    from asmr_zoo_sources.youtube import YouTubeSource

    _run(
        YouTubeSource(comments=comments, workdir=out / ".work"),
        sources,
        out,
        sample_rate,
        shard,
        audio_format,
        min_seconds,
    )


@data_app.command("synth")
def synth(
    out: Path = OUT,
    triggers: str = typer.Option("all", "--triggers", help="Comma-separated trigger names, or 'all'."),
    minutes: float = typer.Option(1.0, "--minutes", help="Minutes of audio per trigger."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same corpus."),
    channels: int = typer.Option(2, "--channels", help="Master channels: 1 (mono) or 2 (moving stereo)."),
    clip_seconds: float = typer.Option(
        30.0, "--clip-seconds", help="Length of each synthetic 'video'; shorter means more, varied videos."
    ),
    sample_rate: int = SAMPLE_RATE,
    audio_format: str = FORMAT,
) -> None:
    """Generate the procedural, license-free demo corpus."""
    from asmr_zoo_sources.synthetic import SyntheticSource

    names = [t.strip() for t in triggers.split(",") if t.strip()]
    _run(
        SyntheticSource(minutes=minutes, seed=seed, channels=channels, clip_seconds=clip_seconds),
        names,
        out,
        sample_rate,
        None,
        audio_format,
        1.0,
    )


@data_app.command("folder")
def folder(
    dirs: list[Path] = typer.Argument(..., help="Folders holding <trigger>/*.wav|flac."),
    out: Path = OUT,
    sample_rate: int = SAMPLE_RATE,
    shard: str | None = SHARD,
    audio_format: str = FORMAT,
    min_seconds: float = MIN_SECONDS,
) -> None:
    """Import recordings sorted into one folder per trigger."""
    from asmr_zoo_sources.folder import FolderSource

    _run(FolderSource(), [str(d) for d in dirs], out, sample_rate, shard, audio_format, min_seconds)


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
) -> None:
    """Cut segments listed in YouTube-ASMR-300K-style CSV manifests."""
    from asmr_zoo_sources.manifest_source import ManifestSource

    source = ManifestSource(audio_dir=audio_dir, trigger=trigger, download=download, workdir=out / ".work")
    _run(source, [str(c) for c in csvs], out, sample_rate, shard, audio_format, min_seconds)


@data_app.command("stats")
def stats(
    root: Path = typer.Argument(..., help="A data set directory (with manifest.jsonl)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Minutes per trigger, videos, and the train/test split of a data set."""
    from rich.console import Console
    from rich.table import Table

    from asmr_zoo_sources.stats import summarise

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
