"""The core commands: list, plugins, info, run, register. Heavy modules (torch) load inside commands."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from asmr_zoo.cli.app import app
from asmr_zoo.errors import UsageError
from asmr_zoo.plugins import KINDS, get_zoo

LIST_KINDS = (*KINDS, "checkpoints")
console = Console()
err_console = Console(stderr=True)


def _matches(name: str, pattern: str | None) -> bool:
    if not pattern:
        return True
    if not any(ch in pattern for ch in "*?["):
        pattern = f"*{pattern}*"
    return fnmatch.fnmatch(name, pattern)


def _registry(zoo: Any) -> Any:
    from asmr_zoo.registry import load_registry

    registry = load_registry(zoo)
    for warning in registry.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    return registry


@app.command("list")
def list_command(
    pattern: str = typer.Argument(None, help="Only names matching this (wildcards * ? allowed, e.g. 'wave*')."),
    kind: str = typer.Option(None, "--kind", "-k", help=f"Only one kind: {', '.join(LIST_KINDS)}."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """List installed models, conditioners, samplers, codecs, sources and registered checkpoints."""
    if kind is not None and kind not in LIST_KINDS:
        raise UsageError(f"unknown kind '{kind}'; choose one of: {', '.join(LIST_KINDS)}")
    zoo = get_zoo()
    kinds = [kind] if kind else list(LIST_KINDS)
    result: dict[str, list[dict[str, Any]]] = {}
    for k in kinds:
        if k == "checkpoints":
            entries = _registry(zoo).entries.values()
            result[k] = [
                {
                    "id": e.id,
                    "model": e.model,
                    "conditioner": e.conditioner,
                    "triggers": e.triggers,
                    "sample_rate": e.sample_rate,
                    "metrics": e.metrics,
                    "default": e.default,
                }
                for e in entries
                if _matches(e.id, pattern) or _matches(e.model, pattern)
            ]
        else:
            result[k] = [
                {"name": c.name, "plugin": c.plugin, "description": c.summary}
                for c in sorted(zoo.components[k].values(), key=lambda c: c.name)
                if _matches(c.name, pattern)
            ]
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for k, rows in result.items():
        table = Table(title=k, title_justify="left", show_edge=False)
        if k == "checkpoints":
            for col in ("id", "model", "conditioner", "triggers", "bits/sample"):
                table.add_column(col)
            for row in rows:
                bits = row["metrics"].get("test_bits_per_sample")
                table.add_row(
                    row["id"],
                    row["model"],
                    row["conditioner"],
                    ", ".join(row["triggers"]),
                    f"{bits:.3f}" if isinstance(bits, (int, float)) else "",
                )
        else:
            for col in ("name", "plugin", "description"):
                table.add_column(col)
            for row in rows:
                table.add_row(row["name"], row["plugin"], row["description"])
        console.print(table)
    failed = [p.name for p in zoo.plugins.values() if p.status == "failed"]
    if failed and not as_json:
        err_console.print(f"[yellow]warning:[/] plugins failed to load: {', '.join(failed)} (see `asmr-zoo plugins`)")


@app.command("plugins")
def plugins_command(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Show every plugin: distribution, version, hooks, status (loaded / failed / blocked) and error."""
    zoo = get_zoo()
    rows = [p.as_dict() for p in sorted(zoo.plugins.values(), key=lambda p: p.name)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(show_edge=False)
    for col in ("name", "distribution", "version", "status", "hooks", "error"):
        table.add_column(col, overflow="fold")
    colours = {"loaded": "green", "failed": "red", "blocked": "yellow"}
    for row in rows:
        status = f"[{colours[row['status']]}]{row['status']}[/]"
        hooks = ", ".join(h.removeprefix("register_") for h in row["hooks"])
        table.add_row(row["name"], row["distribution"], row["version"], status, hooks, row["error"])
    console.print(table)


@app.command("info")
def info_command(
    checkpoint_id: str = typer.Argument(..., metavar="ID", help="A checkpoint id from `asmr-zoo list`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one registered checkpoint: model, triggers, weights, config, data provenance, metrics."""
    entry = _registry(get_zoo()).get(checkpoint_id).as_dict()
    if as_json:
        typer.echo(json.dumps(entry, indent=2))
        return
    table = Table(show_header=False, show_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in entry.items():
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    console.print(table)


def _progress(description: str) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def _output_paths(out: Path, batch: int) -> list[Path]:
    if out.suffix.lower() not in {".wav", ".flac"}:
        raise UsageError(f"output file {out} must end in .wav or .flac")
    if not out.parent.exists():
        raise UsageError(f"output directory {out.parent} does not exist; create it first")
    if batch == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i + 1}{out.suffix}") for i in range(batch)]


@app.command("run")
def run_command(
    model: str = typer.Argument(..., help="Model name, e.g. wavenet or wavernn (see `asmr-zoo list`)."),
    conditioner: str = typer.Option("none", "--conditioner", "-c", help="Conditioner, e.g. none, global."),
    trigger: str = typer.Option(..., "--trigger", "-t", help="Trigger to generate, e.g. brushing_mic."),
    seconds: float = typer.Option(2.0, "--seconds", "-s", help="Length of each clip in seconds."),
    seed: int = typer.Option(None, "--seed", help="Random seed, for reproducible audio."),
    temperature: float = typer.Option(1.0, "--temperature", help="Softmax temperature; 0 means greedy."),
    top_k: int = typer.Option(0, "--top-k", help="Keep only the k most likely classes (0: all)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (1: off)."),
    sampler_name: str = typer.Option("ancestral", "--sampler", help="Sampler: ancestral, greedy, folded, ..."),
    batch: int = typer.Option(1, "--batch", "-b", help="Number of clips generated at once."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Use this .safetensors file, not the registry."),
    out: Path = typer.Option(None, "--out", "-o", help="Output .wav (default: <model>-<conditioner>-<trigger>.wav)."),
) -> None:
    """Generate audio of a trigger from a registered (or given) checkpoint and write a WAV."""
    from asmr_zoo.triggers import validate_trigger_name

    zoo = get_zoo()
    zoo.component("models", model)
    zoo.component("conditioners", conditioner)
    sampler_cls = zoo.load("samplers", sampler_name)
    validate_trigger_name(trigger)
    if not 0 < seconds <= 3600:
        raise UsageError(f"--seconds must be in (0, 3600], got {seconds}")
    out = out or Path(f"{model}-{conditioner}-{trigger}.wav")
    paths = _output_paths(out, batch)

    from asmr_zoo.checkpoints import load_checkpoint

    if checkpoint is not None:
        net = load_checkpoint(checkpoint, expect={"model": model, "conditioner": conditioner}, zoo=zoo)
        source = str(checkpoint)
    else:
        entry = _registry(zoo).resolve(model, conditioner, trigger)
        net = entry.load(zoo)
        source = entry.id
    sampler = sampler_cls(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, batch=batch)
    cond = net.conditioner.encode([trigger] * batch)
    num_samples = max(1, round(seconds * net.sample_rate))
    with _progress("generating") as progress:
        task = progress.add_task(f"{model}/{conditioner} {trigger}", total=None)
        wav = sampler.generate(
            net, num_samples, cond, lambda done, total: progress.update(task, completed=done, total=total)
        )
    from asmr_zoo.audio import write_audio

    for path, clip in zip(paths, wav.numpy(), strict=True):
        write_audio(path, clip, net.sample_rate)
        err_console.print(
            f"wrote {path} ({num_samples / net.sample_rate:.2f} s at {net.sample_rate} Hz, from {source})"
        )


@app.command("register")
def register_command(
    checkpoint: Path = typer.Argument(..., help="A .safetensors checkpoint made by `asmr-zoo train`."),
    checkpoint_id: str = typer.Option(None, "--id", help="Registry id (default: the file name)."),
    trigger: list[str] = typer.Option(
        None, "--trigger", "-t", help="Trigger(s) it serves (default: from the checkpoint)."
    ),
    default: bool = typer.Option(True, "--default/--no-default", help="Prefer it over shipped checkpoints."),
) -> None:
    """Add a trained checkpoint to your user registry (copying it to ASMR_ZOO_HOME, with sha256 and metrics)."""
    import shutil

    from asmr_zoo.checkpoints import atomic_write, read_metadata
    from asmr_zoo.paths import user_home, user_registry
    from asmr_zoo.registry import add_user_entry, entry_from_checkpoint, validate_id
    from asmr_zoo.triggers import validate_trigger_name

    meta = read_metadata(checkpoint)
    vocabulary = json.loads(meta["vocabulary"])
    served = json.loads(meta.get("extra.triggers", "[]")) or vocabulary
    triggers = list(trigger or served)
    if not triggers:
        raise UsageError(f"{checkpoint} does not say which trigger it serves: pass --trigger NAME")
    for name in triggers:
        validate_trigger_name(name)
    entry_id = validate_id(checkpoint_id or checkpoint.stem.lower().replace(" ", "-"))
    target = user_home() / "checkpoints" / f"{entry_id}.safetensors"
    atomic_write(target, lambda tmp: shutil.copyfile(checkpoint, tmp))
    try:
        entry = entry_from_checkpoint(target, user_home(), entry_id, triggers, default=default)
        add_user_entry(entry, user_registry())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    err_console.print(f"registered '{entry_id}' ({meta['model']} / {meta['conditioner']}) in {user_registry()}")
