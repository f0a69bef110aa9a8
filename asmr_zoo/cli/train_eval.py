"""The ``train`` and ``eval`` commands."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from asmr_zoo.cli.app import app
from asmr_zoo.cli.commands import GUIDANCE_HELP, console, err_console
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.plugins import get_zoo
from asmr_zoo.threads import threads_option, use_threads


def _check_out(out: Path, resume: bool) -> None:
    from asmr_zoo.training import resume_path

    if out.suffix != ".safetensors":
        raise UsageError(f"--out {out} must end in .safetensors")
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist; create it first")
    for path in (out, resume_path(out)):
        if path.exists() and not path.is_file():
            raise UsageError(f"{path} is not a file (a directory?): move it away, or choose another --out")
    if not resume and (out.exists() or resume_path(out).exists()):
        raise UsageError(f"{out} already exists: pass --resume to continue that run, or choose another --out")
    if resume and out.exists() and not resume_path(out).exists():
        raise UsageError(
            f"{out} exists but its resume file {resume_path(out).name} does not, so the run cannot be continued "
            f"(it finished without one, or the file was made elsewhere): choose another --out"
        )


@contextlib.contextmanager
def _out_lock(out: Path) -> Iterator[None]:
    """Exclusive ownership of --out for this run: a second `train` on the same file is refused. The lock file
    is removed when the run ends, however it ends."""
    from filelock import FileLock, Timeout

    path = out.with_name(f".{out.name}.lock")
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise UsageError(f"another `asmr-zoo train` is writing {out}: wait for it, or choose another --out") from None
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        lock.release()


def _init_source(
    init: Path, model: str, preset: str | None, model_cfg: Any, explicit: set[str], conditioned: bool
) -> tuple[Any, Any]:
    """``train --init``: the checkpoint's model, and the config to train: its own (unguided for an unconditioned
    model, ``factory.unguided``), with the model settings given explicitly on top (those that keep its
    architecture: a window, sample_batch, an engine)."""
    import dataclasses

    from asmr_zoo.checkpoints import load_checkpoint
    from asmr_zoo.factory import unguided

    if preset:
        raise UsageError("--init takes the model config from its checkpoint: drop --preset")
    source = load_checkpoint(init)
    if source.name != model:
        raise UsageError(f"{init} holds a {source.name} model, not {model}: train {source.name} from it")
    config = source.config if conditioned else unguided(source.config)  # a per-trigger model folded from it
    return source, dataclasses.replace(config, **{k: getattr(model_cfg, k) for k in explicit})


@app.command(
    "train",
    context_settings={"allow_extra_args": False, "help_option_names": ["--help", "-h"]},
)
def train_command(
    model: str = typer.Argument(..., help="Model to train, e.g. wavernn or wavenet."),
    overrides: list[str] = typer.Argument(None, help="Config overrides: model.hidden=256 train.steps=500 ..."),
    conditioner: str = typer.Option("none", "--conditioner", "-c", help="none, or e.g. global / gate-bias / concat."),
    data: Path = typer.Option(..., "--data", "-d", help="A data set made by `asmr-zoo data ...`."),
    trigger: list[str] = typer.Option(None, "--trigger", "-t", help="Train on these triggers only (repeatable)."),
    config_file: Path = typer.Option(None, "--config", help="A YAML file with 'model:' and 'train:' sections."),
    preset: str = typer.Option(None, "--preset", help="A model preset, e.g. paper, small, tiny."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint to write (.safetensors)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run that wrote --out where it stopped."),
    init: Path = typer.Option(
        None,
        "--init",
        help="Start from this checkpoint's weights and config (same model): go on training it, or with "
        "-c none and one --trigger, start a per-trigger model from a conditioned one, that trigger folded in.",
    ),
    threads: int = threads_option(),
) -> None:
    """Train a model on a data set, with held-out validation and resumable atomic checkpoints.

    Works unchanged under `torchrun --nproc_per_node N` (DistributedDataParallel)."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from asmr_zoo.checkpoints import sha256_file
    from asmr_zoo.dataset import read_dataset
    from asmr_zoo.factory import build_model
    from asmr_zoo.training import (
        initial_weights,
        load_clips,
        resolve_training_config,
        select_rows,
        train,
        trained_parameters,
    )

    zoo = get_zoo()
    model_cls = zoo.load("models", model)
    model_cls.check_conditioner(zoo.load("conditioners", conditioner))
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports and writes
    owned = out.parent.is_dir() and main_process
    with _out_lock(out) if owned else contextlib.nullcontext():  # a second run on --out is refused
        _check_out(out, resume)
        model_cfg, train_cfg, explicit = resolve_training_config(model_cls, preset, config_file, overrides or [])
        source = None
        if init is not None:
            conditioned = zoo.load("conditioners", conditioner).conditioned
            source, model_cfg = _init_source(init, model, preset, model_cfg, explicit, conditioned)
        if threads is not None or not train_cfg.threads:  # --threads wins over train.threads
            train_cfg.threads = use_threads(threads)
        rows = select_rows(read_dataset(data), trigger or [], data)
        rates = sorted({r.sample_rate for r in rows})
        if len(rates) > 1:
            raise DataError(f"{data} mixes sample rates {rates}: re-make it with one --sample-rate")
        if source is not None and model_cfg.sample_rate != rates[0]:
            raise DataError(
                f"the data in {data} is at {rates[0]} Hz but --init's model is at {model_cfg.sample_rate} Hz: "
                f"re-make the data with --sample-rate {model_cfg.sample_rate}"
            )
        if "sample_rate" in explicit and model_cfg.sample_rate != rates[0]:
            raise DataError(
                f"the data in {data} is at {rates[0]} Hz but model.sample_rate is {model_cfg.sample_rate}: "
                f"re-make the data with --sample-rate {model_cfg.sample_rate} or drop the setting"
            )
        model_cfg.sample_rate = rates[0]
        served = sorted({r.trigger for r in rows})
        vocabulary = served if zoo.load("conditioners", conditioner).conditioned else []
        torch.manual_seed(train_cfg.seed)
        net = build_model(model, conditioner, vocabulary, model_cfg, zoo=zoo)
        if source is not None:
            try:
                net.load_state_dict(initial_weights(source, conditioner, served))
            except RuntimeError:  # shapes: an explicit model setting changed the architecture
                changed = ", ".join(f"model.{k}" for k in sorted(explicit))
                raise UsageError(f"{changed} change the architecture of --init's model: drop them") from None
        train_rows = [r for r in rows if r.split == "train"]
        test_rows = [r for r in rows if r.split == "test"]
        if not train_rows:
            raise DataError(f"{data} has no training rows for {', '.join(served)}")
        if not test_rows:
            err_console.print("[yellow]warning:[/] no held-out (test) videos: no validation NLL will be reported")
        train_clips = load_clips(train_rows, net.codec, model_cfg.sample_rate)
        test_clips = load_clips(test_rows, net.codec, model_cfg.sample_rate)
        minutes = {t: round(sum(r.end - r.start for r in rows if r.trigger == t) / 60, 3) for t in served}
        extra = {
            "triggers": served,
            "data": {
                "dir": str(data),
                "origins": sorted({r.origin for r in rows}),
                "videos": len({r.video_id for r in rows}),
                "minutes": minutes,
            },
        }
        if source is not None:
            extra["init"] = {"checkpoint": init.name, "sha256": sha256_file(init)}
        n_params = sum(p.numel() for p in net.parameters())
        trained = sum(p.numel() for p in trained_parameters(net, train_cfg))
        what = f"{model}/{conditioner} ({n_params:,} parameters)"
        if trained < n_params:
            what = f"the loudness prior of {model}/{conditioner} ({trained:,} of its {n_params:,} parameters)"
        if main_process:
            err_console.print(f"training {what} on {', '.join(served)}")
        columns = (
            TextColumn("step {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=True, disable=not main_process) as bar:
            task = bar.add_task("train", total=train_cfg.steps, status="starting")

            def report(step: int, total: int, loss: float, speed: float) -> None:
                bar.update(task, completed=step, status=f"loss {loss:.3f} bits  {speed:,.0f} samples/s")

            def held_out(step: int, metrics: dict) -> None:
                bits = metrics.get("test_bits_per_sample")
                if bits is not None:
                    unigram = metrics.get("unigram_bits_per_sample")
                    against = f" (unigram {unigram:.3f})" if unigram is not None else ""
                    bar.console.print(f"step {step}: held-out {bits:.3f} bits/sample{against}")

            result = train(
                net, train_cfg, train_clips, test_clips, out, resume=resume, extra=extra, progress=report,
                on_eval=held_out, score_start=source is not None,
            )  # fmt: skip
        if main_process:
            bits = result.metrics.get("test_bits_per_sample")
            summary = "no held-out data"
            if bits is not None:
                summary = (
                    f"held-out {bits:.3f} bits/sample (the weights of step {result.metrics.get('step', result.step)})"
                )
            err_console.print(f"trained to step {result.step}; wrote {out}: {summary}")


@app.command("eval")
def eval_command(
    checkpoint: Path = typer.Argument(..., help="A .safetensors checkpoint."),
    data: Path = typer.Option(..., "--data", "-d", help="The data set whose held-out (test) videos are scored."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    clips: int = typer.Option(4, "--clips", help="Clips generated per trigger for the generation metrics (0: skip)."),
    seconds: float = typer.Option(10.0, "--seconds", help="Seconds per generated clip (collapse needs >= 10)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the generated audio."),
    embeddings: Path = typer.Option(None, "--embeddings", help="Write the trigger-embedding MDS plot (PNG)."),
    generator: Path = typer.Option(
        None, "--generator", help="A pan prior's eval only: place --clips clips this checkpoint generates per trigger."
    ),
    guidance: float = typer.Option(None, "--guidance", help=GUIDANCE_HELP, show_default=False),
    threads: int = threads_option(),
) -> None:
    """Score a checkpoint honestly: held-out bits/sample per trigger (vs unigram and uniform), own vs swapped
    labels, and what generation sounds like: a trigger classifier fitted on the data set's train split
    recognises the generated clips (accuracy, recall per trigger), onset rate, flatness and collapse to silence
    against real held-out clips. Optionally the embedding plot (Figure 8).

    An upmixer (`asmr-zoo train-upmix`) is scored on the held-out stereo clips instead: STFT and envelope
    distances (2.5D Visual Sound's protocol) and set-level spatial distances, against dual mono. A pan prior
    (`asmr-zoo train-pan`) places the held-out clips' own mids, or with --generator CHECKPOINT the clips that
    checkpoint generates (as `run --channels 2` does): set-level spatial distances from the real stereo, against
    dual mono and a random constant pan of the same mids."""
    from asmr_zoo.checkpoints import PAN_PRIOR, UPMIXER, load_checkpoint, read_metadata, weights_step
    from asmr_zoo.evaluation import evaluate, plot_embeddings

    if embeddings is not None and embeddings.suffix.lower() != ".png":
        raise UsageError(f"--embeddings {embeddings} must end in .png")
    use_threads(threads)
    kind = read_metadata(checkpoint)["model"]
    if generator is not None and kind != PAN_PRIOR:
        raise UsageError(f"--generator is for a pan prior's eval; {checkpoint.name} is not one: drop --generator")
    if guidance is not None and kind in (UPMIXER, PAN_PRIOR):
        what = "stereo pan prior" if kind == PAN_PRIOR else "mono-to-stereo upmixer"
        raise UsageError(f"--guidance steers a generator's envelope prior; {checkpoint.name} is a {what}: drop it")
    if kind == UPMIXER:
        _eval_upmixer(checkpoint, data, as_json)
        return
    if kind == PAN_PRIOR:
        _eval_pan_prior(checkpoint, data, as_json, seed, None if generator is None else (generator, clips, seconds))
        return
    model = load_checkpoint(checkpoint, zoo=get_zoo())
    if guidance is not None:
        model.use_guidance(guidance)
    served = json.loads(read_metadata(checkpoint).get("extra.triggers", "[]"))
    with _eval_progress() as progress:
        report = evaluate(model, data, served, clips=clips, seconds=seconds, seed=seed, progress=progress)
    if embeddings is not None:
        plot_embeddings(model, embeddings, checkpoint.stem, weights_step(read_metadata(checkpoint)))
        report["embeddings_plot"] = str(embeddings)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_eval(checkpoint.name, report)


def _eval_upmixer(checkpoint: Path, data: Path, as_json: bool) -> None:
    """``eval`` of an upmixer: its distances from the real stereo, beside dual mono's."""
    from asmr_zoo.upmix import load_upmixer
    from asmr_zoo.upmix_training import evaluate_upmixer

    net = load_upmixer(checkpoint)
    with _eval_progress() as progress:
        report = evaluate_upmixer(net, data, progress)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    up, mono = report["distances"]["upmix"], report["distances"]["dual_mono"]
    table = Table(
        title=f"{checkpoint.name}: {report['clips']} held-out stereo clips at 16 kHz (lower is better)",
        title_justify="left",
        show_edge=False,
    )
    for col in ("distance", "upmix", "dual mono"):
        table.add_column(col)
    table.add_row("STFT", f"{up['stft']:.4f}", f"{mono['stft']:.4f}")
    table.add_row("envelope", f"{up['envelope']:.4f}", f"{mono['envelope']:.4f}")
    for statistic, row in report["spatial"]["upmix"].items():
        other = report["spatial"]["dual_mono"].get(statistic)
        baseline = "-" if other is None else f"{other['wasserstein']:.3g}"
        table.add_row(f"{statistic} (Wasserstein)", f"{row['wasserstein']:.3g}", baseline)
    console.print(table)


def _eval_pan_prior(
    checkpoint: Path, data: Path, as_json: bool, seed: int, generated: tuple[Path, int, float] | None
) -> None:
    """``eval`` of a pan prior: per trigger, Wasserstein distances of ILD and side/mid from the real stereo;
    ``generated``: (generator checkpoint, clips per trigger, seconds) whose clips are placed."""
    from asmr_zoo.pan_prior import load_pan_prior
    from asmr_zoo.pan_training import METHODS, evaluate_pan_prior, generated_mids

    prior = load_pan_prior(checkpoint)
    with _eval_progress() as progress:
        mids, source = None, "held-out mids"
        if generated is not None:
            mids, name = generated_mids(generated[0], prior, *generated[1:], seed, progress)
            source = f"clips generated by {name}"
        report = evaluate_pan_prior(prior, data, seed, progress, mids)
    report["mids"] = source
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(
        title=f"{checkpoint.name}: {report['clips']} {source} placed; Wasserstein distance from the "
        f"{report['real_clips']} real stereo clips, ILD dB / side-mid dB (lower is closer)",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("trigger", no_wrap=True)
    for method in METHODS:
        table.add_column(method.replace("_", " "))
    rows = {
        **report["triggers"],
        "mean": {m: {s: {"wasserstein": v} for s, v in report["mean"][m].items()} for m in METHODS},
    }
    for trigger, row in rows.items():
        cells = [f"{row[m]['ild_db']['wasserstein']:.2f} / {row[m]['side_mid_db']['wasserstein']:.2f}" for m in METHODS]
        table.add_row(trigger, *cells)
    console.print(table)


def _eval_progress():
    """A progress bar whose description follows the stage ``evaluate`` reports."""
    from contextlib import contextmanager

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    @contextmanager
    def bar():
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("loading", total=1)
            yield lambda stage, done, total: progress.update(task, description=stage, completed=done, total=total)

    return bar()


def _print_eval(name: str, report: dict) -> None:
    table = Table(title=f"{name}: held-out bits/sample", title_justify="left", show_edge=False)
    table.add_column("trigger", no_wrap=True)
    for col in ("bits", "unigram", "uniform", "own vs best other label"):
        table.add_column(col, overflow="fold")
    for trigger, row in report["triggers"].items():
        swapped = row.get("best_swapped_bits")
        versus = "-"
        if swapped is not None:
            versus = f"{row['own_subset_bits']:.2f} vs {swapped:.2f} {row['best_swapped_trigger']}"
        table.add_row(
            trigger, f"{row['bits']:.3f}", f"{row['unigram_bits']:.3f}", f"{report['uniform_bits']:.1f}", versus
        )
    console.print(table)
    if "own_label_wins" in report:
        console.print(f"own label scores best for {report['own_label_wins']}/{len(report['triggers'])} triggers")
    gen = report.get("generation")
    if not gen:
        return
    table = Table(
        title=f"generated clips ({gen['clips_per_trigger']} x {gen['seconds']:g} s per trigger), against real",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("trigger", no_wrap=True)
    for col in ("recognised", "onsets/s gen/real", "flatness gen/real", "collapsed"):
        table.add_column(col, overflow="fold")
    for trigger, row in gen["triggers"].items():
        g, r = row["generated"], row["real"]
        table.add_row(
            trigger,
            "-" if row["recall"] is None else f"{row['recall']:.0%}",
            f"{g['onset_rate']:.1f}/{r['onset_rate']:.1f}" if r else f"{g['onset_rate']:.1f}/-",
            f"{g['flatness']:.3f}/{r['flatness']:.3f}" if r else f"{g['flatness']:.3f}/-",
            "-" if g["collapsed"] is None else f"{g['collapsed']:.0%}",
        )
    console.print(table)
    collapsed = "not measured (clips < 10 s)" if gen["collapsed"] is None else f"{gen['collapsed']:.0%}"
    if gen["accuracy"] is None:
        recognised = "not measured (the data set has one trigger: no classifier)"
    else:
        real = "-" if gen["real_accuracy"] is None else f"{gen['real_accuracy']:.0%}"
        chance = 1 / len(gen["classifier_classes"])
        recognised = f"{gen['accuracy']:.0%} of generated clips (real held-out clips: {real}; chance {chance:.0%})"
    console.print(f"recognised: {recognised}; collapsed: {collapsed}")
