"""The core commands: list, plugins, info, run, register. Heavy modules (torch) load inside commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from asmr_zoo.api import matches
from asmr_zoo.cli.app import app
from asmr_zoo.errors import UsageError
from asmr_zoo.plugins import KINDS, get_zoo
from asmr_zoo.threads import threads_option, use_threads

GUIDANCE_HELP = (
    "Trigger guidance of a band model's envelope prior (asmr_zoo/guidance.py): 0 is off; more steers each frame "
    "harder towards what tells the trigger apart from its rivals. Default: the checkpoint's own."
)

LIST_KINDS = (*KINDS, "checkpoints")
console = Console()
err_console = Console(stderr=True)


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
            registry = _registry(zoo)
            entries = registry.entries.values()
            result[k] = [
                {
                    "id": e.id,
                    "model": e.model,
                    "conditioner": e.conditioner,
                    "triggers": e.triggers,
                    "sample_rate": e.sample_rate,
                    "metrics": e.metrics,
                    "default": e.default,
                    "channels": e.channels,
                }
                for e in entries
                if matches(e.id, pattern) or matches(e.model, pattern)
            ]
        else:
            result[k] = [
                {"name": c.name, "plugin": c.plugin, "description": c.summary}
                for c in sorted(zoo.components[k].values(), key=lambda c: c.name)
                if matches(c.name, pattern)
            ]
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for k, rows in result.items():
        if k == "checkpoints":
            header = ("id", "model/conditioner", "triggers", "bits/sample", "recognised", "run picks it")
            lines = [_checkpoint_row(row, registry) for row in rows]
        else:
            header = ("name", "plugin", "description")
            lines = [(row["name"], row["plugin"], row["description"]) for row in rows]
        _print_table(k, header, lines)
    failed = [p.name for p in zoo.plugins.values() if p.status == "failed"]
    if failed and not as_json:
        err_console.print(f"[yellow]warning:[/] plugins failed to load: {', '.join(failed)} (see `asmr-zoo plugins`)")


def _checkpoint_row(row: dict[str, Any], registry: Any) -> tuple[str, ...]:
    """One checkpoint's cells: triggers summarised, and for which of them `run` picks this entry."""
    from asmr_zoo.triggers import COMMON_TRIGGERS

    triggers = row["triggers"]
    shown = f"{len(triggers)} common triggers" if set(triggers) == set(COMMON_TRIGGERS) else ", ".join(triggers)
    channels = row["channels"]
    picked = [t for t in triggers if registry.resolve(row["model"], row["conditioner"], t, channels).id == row["id"]]
    picks = "yes" if len(picked) == len(triggers) else ", ".join(picked) if picked else "no (use --id)"
    bits = row["metrics"].get("test_bits_per_sample")
    recognised = (row["metrics"].get("generation") or {}).get("recognised")
    return (
        row["id"],
        f"{row['model']}/{row['conditioner']}" + (" (stereo)" if channels == 2 else ""),
        shown,
        f"{bits:.3f}" if isinstance(bits, (int, float)) else "",
        f"{recognised:.0%}" if isinstance(recognised, (int, float)) else "",
        picks,
    )


def _print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A table that never cuts a cell: rich (folding) on a terminal, tab-separated lines when piped."""
    if not console.is_terminal:
        typer.echo(f"# {title}")
        for line in (header, *rows):
            typer.echo("\t".join(line))
        return
    table = Table(title=title, title_justify="left", show_edge=False)
    for i, col in enumerate(header):
        table.add_column(col, no_wrap=i == 0, overflow="fold")
    for line in rows:
        table.add_row(*line)
    console.print(table)


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
    card: bool = typer.Option(False, "--card", help="Print the model card (Markdown), as the report shows it."),
) -> None:
    """Show one registered checkpoint: model, triggers, weights, config, data provenance, metrics."""
    if card and as_json:
        raise UsageError("--card prints the model card as Markdown and --json the registry entry: pass one of them")
    zoo = get_zoo()
    found = _registry(zoo).get(checkpoint_id)
    if card:
        from asmr_zoo.model_card import model_card

        typer.echo(model_card(found, zoo), nl=False)
        return
    entry = found.as_dict()
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
    model: str = typer.Argument(
        None, help="Model name, e.g. wavenet or wavernn (see `asmr-zoo list`); not needed with --id/--checkpoint."
    ),
    conditioner: str = typer.Option(None, "--conditioner", "-c", help="Conditioner, e.g. none (default), global."),
    trigger_values: list[str] = typer.Option(
        None,
        "--trigger",
        "-t",
        help="Trigger, e.g. brushing_mic or free text such as 'glass tapping'; a blend of a conditioned model's "
        "triggers with weights, repeated: -t tapping_glass=0.7 -t brushing_mic=0.3.",
    ),
    checkpoint_id: str = typer.Option(None, "--id", help="Use this registered checkpoint (see `asmr-zoo list`)."),
    seconds: float = typer.Option(2.0, "--seconds", "-s", help="Length of each clip in seconds."),
    seed: int = typer.Option(None, "--seed", help="Random seed, for reproducible audio."),
    temperature: float = typer.Option(1.0, "--temperature", help="Softmax temperature; 0 means greedy."),
    top_k: int = typer.Option(0, "--top-k", help="Keep only the k most likely classes (0: all)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (1: off)."),
    sampler_name: str = typer.Option("ancestral", "--sampler", help="Sampler: ancestral, greedy, folded, ..."),
    sampler_option: list[str] = typer.Option(
        None, "--sampler-option", help="A sampler's own setting, key=value (repeatable), e.g. fold_length=8000."
    ),
    batch: int = typer.Option(1, "--batch", "-b", help="Number of clips generated at once (1-1024)."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Use this .safetensors file, not the registry."),
    out: Path = typer.Option(None, "--out", "-o", help="Output .wav (default: <model>-<conditioner>-<trigger>.wav)."),
    spatial_path: str = typer.Option(
        None, "--spatialize", help="Render binaurally (2 channels) along: left, right, center, ear-to-ear, circle."
    ),
    period: float = typer.Option(None, "--period", help="Seconds per --spatialize sweep or turn (default 4)."),
    channels: int = typer.Option(
        None,
        "--channels",
        help="1 (mono) or 2: a stereo checkpoint, its mono output placed as the trigger's recordings move by its "
        "pan prior (or any checkpoint along --spatialize PATH). Default: the checkpoint's own.",
    ),
    weights: str = typer.Option(
        None,
        "--weights",
        help="The generation loop's weights: fp32, or int8 (faster; about 1e-4 nats per step from fp32; the C "
        "loop's), or bf16 (wavernn's TorchScript loop). Default: the checkpoint's own.",
    ),
    guidance: float = typer.Option(None, "--guidance", help=GUIDANCE_HELP, show_default=False),
    threads: int = threads_option(),
) -> None:
    """Generate audio of a trigger and write a WAV: from the checkpoint the registry picks for (model,
    conditioner, trigger), from a registered --id, or from a --checkpoint file (which names its own model)."""
    from asmr_zoo.api import (
        Generator,
        check_request,
        label_of,
        load,
        make_sampler,
        parse_triggers,
        pick_blend,
        pick_trigger,
        resolve,
    )

    zoo = get_zoo()
    note = lambda text: err_console.print(text, highlight=False)  # noqa: E731
    if checkpoint is not None and checkpoint_id is not None:
        raise UsageError("pass either --id or --checkpoint, not both")
    from asmr_zoo.sampling import sampler_options

    options = sampler_options(zoo.load("samplers", sampler_name), sampler_option or [])
    check_request(seconds, batch)  # before any model is loaded
    make_sampler(sampler_name, temperature, top_k, top_p, seed, batch, options, zoo)
    trigger = parse_triggers(trigger_values)
    use_threads(threads)
    if channels not in (None, 1, 2):
        raise UsageError(f"--channels must be 1 or 2, got {channels}")
    if channels == 1 and spatial_path is not None:
        raise UsageError("--spatialize writes 2 channels; drop --channels 1 (or --spatialize for mono)")
    if spatial_path is not None:
        from asmr_zoo.spatialize import check_path, spatialize

        period = check_path(spatial_path, period)
    elif period is not None:
        raise UsageError("--period needs --spatialize PATH")
    placed = channels == 2 and spatial_path is None  # a stereo variant's pan prior places the mono output
    stereo = None  # the stereo variant's registry entry
    if checkpoint_id is not None:
        named = _registry(zoo).get(checkpoint_id)
        stereo = named if named.channels == 2 and channels != 1 and spatial_path is None else None
    elif checkpoint is not None and placed:
        raise UsageError(_mono_for_stereo(str(checkpoint)))
    if checkpoint_id is not None and placed and stereo is None:
        raise UsageError(_mono_for_stereo(f"'{checkpoint_id}'"))
    if checkpoint is not None or checkpoint_id is not None:
        gen = load(checkpoint if checkpoint is not None else checkpoint_id, zoo)
        found = (gen.model.name, gen.model.conditioner.name)
        for asked, have, what in ((model, found[0], "model"), (conditioner, found[1], "conditioner")):
            if asked is not None and asked != have:
                raise UsageError(f"{gen.source} is a {have} {what}, not '{asked}'; drop the {what} or pick another")
        model, conditioner = found
        if isinstance(trigger, dict):
            trigger = pick_blend(trigger, list(gen.model.conditioner.vocabulary), note)
        else:
            trigger = pick_trigger(trigger, gen.triggers, note)
    else:
        if model is None:
            raise UsageError("name a model (e.g. `asmr-zoo run wavenet ...`), or pass --id or --checkpoint")
        conditioner = conditioner or "none"
        entry, trigger = resolve(model, conditioner, trigger, zoo, note, channels=2 if placed else 1)
        stereo = entry if placed else None
        gen = None
    paths = _output_paths(out or Path(f"{model}-{conditioner}-{label_of(trigger)}.wav"), batch)
    pan = None if stereo is None else _pan_prior(stereo, trigger)
    if gen is None:
        gen = Generator.from_entry(entry, zoo)
    if weights is not None:
        gen.model.use_fast_weights(weights)
    if guidance is not None:
        gen.model.use_guidance(guidance)
    num_samples = max(1, round(seconds * gen.sample_rate))
    with _progress("generating") as progress:
        task = progress.add_task(f"{model}/{conditioner} {label_of(trigger)}", total=num_samples)
        wav = gen.generate(
            trigger,
            seconds=seconds,
            seed=seed,
            batch=batch,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            sampler=sampler_name,
            sampler_options=options,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    from asmr_zoo.audio import write_audio

    for index, (path, clip) in enumerate(zip(paths, wav, strict=True)):
        if spatial_path is not None:
            clip, gain_db = spatialize(clip, gen.sample_rate, spatial_path, period)
            if gain_db < 0:
                note(f"{path}: scaled by {gain_db:.1f} dB after spatialising, to keep the peak under -1 dBFS")
        elif pan is not None:
            clip, gain_db = pan(clip, gen.sample_rate, None if seed is None else seed + index)
            if gain_db < 0:
                note(f"{path}: scaled by {gain_db:.1f} dB after panning, to keep the peak under -1 dBFS")
        write_audio(path, clip, gen.sample_rate)
        err_console.print(
            f"wrote {path} ({num_samples / gen.sample_rate:.2f} s at {gen.sample_rate} Hz, from {gen.source})"
        )


def _mono_for_stereo(what: str) -> str:
    """The error for ``--channels 2`` with a mono checkpoint ``what``."""
    return (
        f"{what} is a mono checkpoint: for --channels 2 pick a stereo one (`asmr-zoo list --kind checkpoints` "
        f"marks them; e.g. `asmr-zoo run wavenet -c global -t TRIGGER --channels 2`), or render this one "
        f"binaurally with --spatialize PATH (left, right, center, ear-to-ear, circle), or afterwards with "
        f"`asmr-zoo spatialize` or `asmr-zoo upmix`"
    )


def _pan_prior(stereo: Any, trigger: Any) -> Any:
    """A stereo variant's pan prior, for the (main) trigger, as a function ``(mono, rate, seed) -> (stereo,
    gain_db)``; a pan prior missing from the registry, or not knowing the trigger, is a one-line error."""
    from asmr_zoo.checkpoints import PAN_PRIOR
    from asmr_zoo.cli.stereo import registered
    from asmr_zoo.pan_prior import load_pan_prior

    main = max(trigger, key=trigger.__getitem__) if isinstance(trigger, dict) else trigger
    if main is None:
        raise UsageError("--channels 2 places the sound as its trigger's recordings do: name a --trigger")
    path, sha256, _ = registered(PAN_PRIOR, stereo.pan_prior)
    prior = load_pan_prior(path, sha256)
    if main not in prior.vocabulary:
        raise UsageError(
            f"the pan prior '{stereo.pan_prior}' of '{stereo.id}' knows {', '.join(prior.vocabulary)}, not "
            f"'{main}': render it binaurally with --spatialize PATH instead"
        )
    return lambda mono, rate, seed: prior.pan(mono, rate, main, seed)


@app.command("register")
def register_command(
    checkpoint: Path = typer.Argument(..., help="A .safetensors checkpoint made by `asmr-zoo train`."),
    checkpoint_id: str = typer.Option(None, "--id", help="Registry id (default: the file name)."),
    trigger: list[str] = typer.Option(
        None, "--trigger", "-t", help="Trigger(s) it serves (default: from the checkpoint)."
    ),
    default: bool = typer.Option(True, "--default/--no-default", help="Prefer it over shipped checkpoints."),
    force: bool = typer.Option(False, "--force", help="Replace a checkpoint already registered under this id."),
) -> None:
    """Add a trained checkpoint to your user registry (copying it to ASMR_ZOO_HOME, with sha256 and metrics).

    Safe to run concurrently (the registry is locked) and to interrupt: a replaced checkpoint's weights are
    removed only after the new entry is in place."""
    import shutil

    from asmr_zoo.checkpoints import AUXILIARY, atomic_write, load_checkpoint, read_metadata, sha256_file
    from asmr_zoo.cli.stereo import load_stereo_model
    from asmr_zoo.paths import user_home, user_registry
    from asmr_zoo.registry import (
        add_user_entry,
        clean_orphans,
        entry_from_checkpoint,
        user_entry,
        user_registry_lock,
        validate_id,
        weights_file,
    )
    from asmr_zoo.triggers import validate_trigger_name

    meta = read_metadata(checkpoint)
    vocabulary = json.loads(meta["vocabulary"])
    served = json.loads(meta.get("extra.triggers", "[]")) or vocabulary
    triggers = list(trigger or served)
    if not triggers:
        raise UsageError(f"{checkpoint} does not say which trigger it serves: pass --trigger NAME")
    for name in triggers:
        validate_trigger_name(name)
    entry_id = validate_id(checkpoint.stem.lower().replace(" ", "-") if checkpoint_id is None else checkpoint_id)
    registry, merged = user_registry(), _registry(get_zoo())
    if entry_id in merged.entries and entry_id not in merged.user_ids:
        raise UsageError(f"'{entry_id}' is a shipped checkpoint id; choose another --id")
    if meta["model"] in AUXILIARY:  # what cannot be loaded is not registered (config, tensors)
        load_stereo_model(meta["model"], checkpoint)
    else:
        load_checkpoint(checkpoint, zoo=get_zoo())
    with user_registry_lock(registry):
        clean_orphans(registry)  # what a killed register left: temp files, copies no entry points at
        old = user_entry(registry, entry_id)
        if old is not None and not force:
            raise UsageError(f"'{entry_id}' is already registered; pass --force to replace it, or choose another --id")
        # Content-addressed name: a new file never overwrites the weights an existing entry points at.
        target = user_home() / "checkpoints" / f"{entry_id}-{sha256_file(checkpoint)[:12]}.safetensors"
        keep = old is not None and weights_file(old, registry) == target.resolve()
        if not keep:
            atomic_write(target, lambda tmp: shutil.copyfile(checkpoint, tmp))
        try:
            entry = entry_from_checkpoint(target, user_home(), entry_id, triggers, default=default)
            _warn_if_worse(merged, entry, triggers)
            add_user_entry(entry, registry)
        except BaseException:
            if not keep:
                target.unlink(missing_ok=True)
            raise
        replaced = None if old is None else weights_file(old, registry)
        if replaced is not None and replaced != target.resolve():
            replaced.unlink(missing_ok=True)
    verb = "replaced" if old is not None else "registered"
    err_console.print(f"{verb} '{entry_id}' ({meta['model']} / {meta['conditioner']}) in {registry}")


def _warn_if_worse(registry: Any, entry: dict[str, Any], triggers: list[str]) -> None:
    """Warn when the new entry's held-out bits/sample are worse than the checkpoint `run` picks today."""
    new_bits = (entry.get("metrics") or {}).get("test_bits_per_sample")
    for trigger in triggers:
        current = registry.find(entry["model"], entry["conditioner"], trigger)
        current = [e for e in current if e.id != entry["id"]]
        old_bits = current[0].metrics.get("test_bits_per_sample") if current else None
        if isinstance(new_bits, (int, float)) and isinstance(old_bits, (int, float)) and new_bits > old_bits:
            err_console.print(
                f"[yellow]warning:[/] '{entry['id']}' scores {new_bits:.3f} held-out bits/sample, worse than "
                f"'{current[0].id}' ({old_bits:.3f}), which it displaces for {trigger}; "
                f"use --no-default to keep '{current[0].id}' as the default",
                highlight=False,
            )
            return


@app.command("unregister")
def unregister_command(
    checkpoint_id: str = typer.Argument(..., metavar="ID", help="A checkpoint id of your user registry."),
) -> None:
    """Remove one of your checkpoints from the user registry and delete its copied weights."""
    from asmr_zoo.paths import user_registry
    from asmr_zoo.registry import remove_user_entry, user_registry_lock, weights_file

    registry, merged = user_registry(), _registry(get_zoo())
    if checkpoint_id in merged.entries and checkpoint_id not in merged.user_ids:
        raise UsageError(f"'{checkpoint_id}' is a shipped checkpoint; only your own can be unregistered")
    with user_registry_lock(registry):
        old = remove_user_entry(checkpoint_id, registry)
        weights = weights_file(old, registry)
        if weights is not None:
            weights.unlink(missing_ok=True)
    err_console.print(f"unregistered '{checkpoint_id}' from {registry}")


@app.command("triggers")
def triggers_command(
    text: str = typer.Argument(None, help="Free text to normalise, e.g. 'tapping on a wine glass'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The trigger taxonomy: techniques, materials, the paper's common set and the synonyms that map labels
    found in the wild onto them; or, given TEXT, the trigger it maps to (`unknown` when it does not map)."""
    from asmr_zoo import triggers as taxonomy

    if text is not None:
        name = taxonomy.normalise_trigger(text)
        typer.echo(json.dumps({"text": text, "trigger": name}) if as_json else name)
        return
    synonyms: dict[str, dict[str, list[str]]] = {"techniques": {}, "materials": {}}
    for kind, table in (("techniques", taxonomy.TECHNIQUE_SYNONYMS), ("materials", taxonomy.MATERIAL_SYNONYMS)):
        for phrase, name in sorted(table.items()):
            synonyms[kind].setdefault(name, []).append(phrase)
    doc = {
        "techniques": list(taxonomy.TECHNIQUES),
        "materials": list(taxonomy.MATERIALS),
        "common": list(taxonomy.COMMON_TRIGGERS),
        "synonyms": synonyms,
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo("A trigger is technique_material (e.g. tapping_glass) or a technique alone (e.g. whispering).")
    typer.echo(f"techniques: {', '.join(doc['techniques'])}")
    typer.echo(f"materials:  {', '.join(doc['materials'])}")
    typer.echo(f"common set: {', '.join(doc['common'])}")
    for kind in ("techniques", "materials"):
        typer.echo(f"{kind[:-1]} synonyms:")
        for name, phrases in synonyms[kind].items():
            typer.echo(f"  {name}: {', '.join(phrases)}")
