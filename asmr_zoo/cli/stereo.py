"""Stereo commands: ``spatialize`` (a mono clip along a path), ``upmix`` and ``train-upmix`` (learned mono to
stereo), ``train-pan`` (the pan prior that ``run --channels 2`` uses). Heavy modules (numpy, torch) load
inside the commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from asmr_zoo.cli.app import app
from asmr_zoo.cli.commands import _output_paths, err_console
from asmr_zoo.errors import UsageError
from asmr_zoo.threads import threads_option

PATH_HELP = "Where the sound goes: left, right, center, ear-to-ear (a sweep) or circle (one turn per period)."
PERIOD_HELP = "Seconds per ear-to-ear-and-back sweep or per turn of the circle (default 4; fixed paths ignore it)."


def say(line: str) -> None:
    """One plain line on stderr (file names may hold [brackets])."""
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("spatialize")
def spatialize_command(
    source: Path = typer.Argument(..., metavar="IN", help="A mono .wav or .flac (stereo is downmixed, with a note)."),
    path: str = typer.Option(..., "--path", "-p", help=PATH_HELP),
    period: float = typer.Option(None, "--period", help=PERIOD_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output .wav or .flac: 2 channels at the input's rate."),
) -> None:
    """Render a mono clip binaurally along a path: interaural time (Woodworth) and level (Brown & Duda head
    shadow) differences of a spherical head. Front and back sound the same (the head has no pinnae)."""
    from asmr_zoo.audio import read_audio, to_mono, write_audio
    from asmr_zoo.spatialize import check_path, spatialize

    period = check_path(path, period)
    _output_paths(out, 1)  # .wav or .flac, in a directory that exists
    audio, rate = read_audio(source)
    if audio.shape[0] > 1:
        say(f"note: {source} has {audio.shape[0]} channels; spatialising their mono downmix")
        audio = to_mono(audio)
    stereo, gain_db = spatialize(audio[0], rate, path, period)
    if gain_db < 0:
        say(f"note: scaled by {gain_db:.1f} dB to keep the peak under -1 dBFS")
    write_audio(out, stereo, rate)
    say(f"wrote {out} ({stereo.shape[1] / rate:.2f} s, 2 channels at {rate} Hz, path {path})")


def registered(kind: str, checkpoint_id: str | None, trigger: str | None = None) -> tuple[Path, str, str]:
    """A registered checkpoint of ``kind`` (an auxiliary model, e.g. the upmixer): the one ``checkpoint_id``
    names, else the default one (serving ``trigger`` if given). Returns its path, sha256 and id."""
    from asmr_zoo.checkpoints import AUXILIARY
    from asmr_zoo.cli.commands import _registry
    from asmr_zoo.plugins import get_zoo

    registry = _registry(get_zoo())
    what, _, train = AUXILIARY[kind]
    if checkpoint_id is not None:
        entry = registry.get(checkpoint_id)
        if entry.model != kind:
            raise UsageError(f"'{checkpoint_id}' is a {entry.model} checkpoint, not {what}")
    else:
        found = registry.find(model=kind, trigger=trigger)
        if not found:
            serving = f" for trigger '{trigger}'" if trigger else ""
            raise UsageError(f"no {what} is registered{serving}: train one with `asmr-zoo {train}` and register it")
        entry = found[0]
    return entry.checked_path(), entry.sha256, entry.id


def load_stereo_model(kind: str, path: Path, sha256: str | None = None) -> Any:
    """The upmixer or pan prior (``kind``, one of ``checkpoints.AUXILIARY``) in ``path``."""
    from asmr_zoo.checkpoints import UPMIXER
    from asmr_zoo.pan_prior import load_pan_prior
    from asmr_zoo.upmix import load_upmixer

    return (load_upmixer if kind == UPMIXER else load_pan_prior)(path, sha256)


def _upmixer(checkpoint: Path | None, checkpoint_id: str | None) -> tuple[Any, str]:
    """The upmixer asked for: a file, a registry id, or the registry's default one; and its name."""
    from asmr_zoo.checkpoints import UPMIXER
    from asmr_zoo.upmix import load_upmixer

    if checkpoint is not None and checkpoint_id is not None:
        raise UsageError("pass --checkpoint or --id, not both")
    if checkpoint is not None:
        return load_upmixer(checkpoint), str(checkpoint)
    path, sha256, name = registered(UPMIXER, checkpoint_id)
    return load_upmixer(path, sha256), name


def check_training_out(out: Path, resume: bool) -> None:
    """``--out`` of a training command: a new .safetensors file in an existing folder, or the file to resume."""
    if out.suffix != ".safetensors":
        raise UsageError(f"--out {out} must end in .safetensors")
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist; create it first")
    if out.exists() and not resume:
        raise UsageError(f"{out} already exists: pass --resume to continue it, or choose another --out")
    if resume and not out.is_file():
        raise UsageError(f"--resume needs {out} from an earlier run; it does not exist")


@contextmanager
def training_bar(steps: int) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar for ``steps`` training steps; yields the callback the training loops report to."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("reading stereo clips", total=steps)
        yield lambda stage, done, total: bar.update(task, description=stage, completed=done)


@app.command("upmix")
def upmix_command(
    source: Path = typer.Argument(..., metavar="IN", help="A mono .wav or .flac (stereo is downmixed, with a note)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .wav or .flac: 2 channels at the input's rate."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="An upmixer made by `asmr-zoo train-upmix`."),
    checkpoint_id: str = typer.Option(None, "--id", help="A registered upmixer (default: the shipped one)."),
    threads: int = threads_option(),
) -> None:
    """Upmix mono to stereo with a learned model: the side (L - R)/2 predicted from the mid by a complex mask on
    its spectrum ("Telling Left from Right"); the input stays the mid, (L + R)/2. From audio alone the side is
    only partly predictable: `asmr-zoo eval UPMIXER --data DIR` measures it against dual mono."""
    from asmr_zoo.audio import read_audio, to_mono, write_audio
    from asmr_zoo.pan_prior import limit_peak
    from asmr_zoo.threads import use_threads
    from asmr_zoo.upmix import upmix

    _output_paths(out, 1)
    use_threads(threads)
    audio, rate = read_audio(source)
    net, name = _upmixer(checkpoint, checkpoint_id)
    if audio.shape[0] > 1:
        say(f"note: {source} has {audio.shape[0]} channels; upmixing their mono downmix")
        audio = to_mono(audio)
    stereo, gain_db = limit_peak(upmix(net, audio[0], rate))
    if gain_db < 0:
        say(f"note: scaled by {gain_db:.1f} dB to keep the peak under -1 dBFS")
    write_audio(out, stereo, rate)
    say(f"wrote {out} ({stereo.shape[1] / rate:.2f} s, 2 channels at {rate} Hz, upmixed by {name})")


@app.command("train-upmix")
def train_upmix_command(
    data: Path = typer.Option(..., "--data", "-d", help="A data set with stereo audio (e.g. `data synth`'s masters)."),
    out: Path = typer.Option(..., "--out", "-o", help="The upmixer to write (.safetensors)."),
    steps: int = typer.Option(2000, "--steps", help="Optimiser steps."),
    batch: int = typer.Option(16, "--batch", help="Crops per step."),
    crop_seconds: float = typer.Option(2.0, "--crop-seconds", help="Seconds per training crop."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    hidden: int = typer.Option(128, "--hidden", help="Channels of the mask network."),
    seed: int = typer.Option(0, "--seed", help="Seed for the crops and the initial weights."),
    resume: bool = typer.Option(False, "--resume", help="Continue from --out's weights and step."),
    threads: int = threads_option(),
) -> None:
    """Train the upmixer on the train split's stereo clips (16 kHz crops, each scaled to unit peak), saving
    --out every 200 steps: an interrupted run keeps its last save, and --resume continues it."""
    from asmr_zoo.threads import use_threads
    from asmr_zoo.upmix import UpmixConfig
    from asmr_zoo.upmix_training import UpmixTraining, train_upmixer

    check_training_out(out, resume)
    how = UpmixTraining(steps=steps, batch=batch, crop_seconds=crop_seconds, lr=lr, seed=seed).check()
    config = UpmixConfig(hidden=hidden).check()
    use_threads(threads)
    with training_bar(steps) as progress:
        _, done = train_upmixer(data, out, how, config, resume, progress)
    say(f"trained the upmixer to step {done}; wrote {out}")


@app.command("train-pan")
def train_pan_command(
    data: Path = typer.Option(..., "--data", "-d", help="A data set with stereo audio (e.g. `data synth`'s masters)."),
    out: Path = typer.Option(..., "--out", "-o", help="The pan prior to write (.safetensors)."),
    steps: int = typer.Option(1500, "--steps", help="Optimiser steps."),
    batch: int = typer.Option(32, "--batch", help="Clips per step."),
    crop_seconds: float = typer.Option(6.0, "--crop-seconds", help="Seconds per training crop (shorter clips: whole)."),
    lr: float = typer.Option(3e-3, "--lr", help="Adam learning rate."),
    hidden: int = typer.Option(64, "--hidden", help="The prior's GRU size."),
    seed: int = typer.Option(0, "--seed", help="Seed for the crops and the initial weights."),
    resume: bool = typer.Option(False, "--resume", help="Continue from --out's weights and step."),
    threads: int = threads_option(),
) -> None:
    """Train the stereo pan prior: per trigger, how its recordings move between the ears (the ILD of 50 ms
    frames), so that `asmr-zoo run ... --channels 2` places any mono model's output the same way. Saves --out
    every 200 steps; --resume continues an interrupted run."""
    from asmr_zoo.pan_prior import FRAME_SECONDS, PanTraining
    from asmr_zoo.pan_training import train_pan_prior
    from asmr_zoo.threads import use_threads

    check_training_out(out, resume)
    if not 0.1 <= crop_seconds <= 600:
        raise UsageError(f"--crop-seconds must be between 0.1 and 600, not {crop_seconds:g}")
    how = PanTraining(steps=steps, batch=batch, crop_frames=round(crop_seconds / FRAME_SECONDS), lr=lr, seed=seed)
    how.check()
    use_threads(threads)
    with training_bar(steps) as progress:
        _, done = train_pan_prior(data, out, how, hidden, resume, progress)
    say(f"trained the pan prior to step {done}; wrote {out}")
