"""The ``train`` and ``eval`` commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from asmr_zoo.cli.app import app
from asmr_zoo.cli.commands import console, err_console
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.plugins import get_zoo


def _check_out(out: Path, resume: bool) -> None:
    from asmr_zoo.training import resume_path

    if out.suffix != ".safetensors":
        raise UsageError(f"--out {out} must end in .safetensors")
    if not out.parent.is_dir():
        raise UsageError(f"output directory {out.parent} does not exist; create it first")
    if not resume and (out.exists() or resume_path(out).exists()):
        raise UsageError(f"{out} already exists: pass --resume to continue that run, or choose another --out")


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
) -> None:
    """Train a model on a data set, with held-out validation and resumable atomic checkpoints.

    Works unchanged under `torchrun --nproc_per_node N` (DistributedDataParallel)."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from asmr_zoo.dataset import read_dataset
    from asmr_zoo.factory import build_model
    from asmr_zoo.training import load_clips, resolve_training_config, select_rows, train

    zoo = get_zoo()
    model_cls = zoo.load("models", model)
    zoo.component("conditioners", conditioner)
    if conditioner not in model_cls.conditioners:
        raise UsageError(f"model '{model}' accepts conditioners: {', '.join(model_cls.conditioners)}")
    _check_out(out, resume)
    model_cfg, train_cfg, explicit = resolve_training_config(model_cls, preset, config_file, overrides or [])
    rows = select_rows(read_dataset(data), trigger or [], data)
    rates = sorted({r.sample_rate for r in rows})
    if len(rates) > 1:
        raise DataError(f"{data} mixes sample rates {rates}: re-make it with one --sample-rate")
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
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    n_params = sum(p.numel() for p in net.parameters())
    if main_process:
        err_console.print(f"training {model}/{conditioner} ({n_params:,} parameters) on {', '.join(served)}")
    columns = (
        TextColumn("step {task.completed}/{task.total}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.3f} bits  {task.fields[speed]:,.0f} samples/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True, disable=not main_process) as bar:
        task = bar.add_task("train", total=train_cfg.steps, loss=float("nan"), speed=0.0)

        def report(step: int, total: int, loss: float, speed: float) -> None:
            bar.update(task, completed=step, loss=loss, speed=speed)

        result = train(net, train_cfg, train_clips, test_clips, out, resume=resume, extra=extra, progress=report)
    if main_process:
        bits = result.metrics.get("test_bits_per_sample")
        summary = "no held-out data"
        if bits is not None:
            summary = f"held-out {bits:.3f} bits/sample (the weights of step {result.metrics.get('step', result.step)})"
        err_console.print(f"trained to step {result.step}; wrote {out}: {summary}")


@app.command("eval")
def eval_command(
    checkpoint: Path = typer.Argument(..., help="A .safetensors checkpoint."),
    data: Path = typer.Option(..., "--data", "-d", help="The data set whose held-out (test) videos are scored."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    seconds: float = typer.Option(1.0, "--seconds", help="Seconds generated per trigger for spectral statistics."),
    seed: int = typer.Option(0, "--seed", help="Seed for the generated audio."),
    embeddings: Path = typer.Option(None, "--embeddings", help="Write the trigger-embedding MDS plot (PNG)."),
) -> None:
    """Score a checkpoint honestly: held-out bits/sample per trigger (vs unigram and uniform), own vs
    swapped labels, spectral statistics of generated vs real audio, and the embedding plot (Figure 8)."""
    from asmr_zoo.checkpoints import load_checkpoint, read_metadata
    from asmr_zoo.evaluation import evaluate, plot_embeddings

    if embeddings is not None and embeddings.suffix.lower() != ".png":
        raise UsageError(f"--embeddings {embeddings} must end in .png")
    model = load_checkpoint(checkpoint, zoo=get_zoo())
    served = json.loads(read_metadata(checkpoint).get("extra.triggers", "[]"))
    report = evaluate(model, data, served, seconds=seconds, seed=seed)
    if embeddings is not None:
        plot_embeddings(model, embeddings)
        report["embeddings_plot"] = str(embeddings)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"{checkpoint.name}: held-out bits/sample", title_justify="left", show_edge=False)
    for col in ("trigger", "own label", "best swapped", "unigram", "uniform", "log-mel dist dB", "onsets/s gen/real"):
        table.add_column(col)
    for trigger, row in report["triggers"].items():
        swapped = row.get("best_swapped_bits")
        spec = row.get("spectral", {})
        table.add_row(
            trigger,
            f"{row['bits']:.3f}",
            f"{swapped:.3f} ({row['best_swapped_trigger']})" if swapped is not None else "-",
            f"{row['unigram_bits']:.3f}",
            f"{report['uniform_bits']:.1f}",
            f"{spec['log_mel_distance_db']:.2f}" if spec else "-",
            f"{spec['onset_rate_generated']:.1f}/{spec['onset_rate_real']:.1f}" if spec else "-",
        )
    console.print(table)
    if "own_label_wins" in report:
        console.print(f"own label scores best for {report['own_label_wins']}/{len(report['triggers'])} triggers")
