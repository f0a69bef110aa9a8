"""The ``report`` command: the static listening report."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from asmr_zoo.cli.app import app
from asmr_zoo.cli.commands import err_console
from asmr_zoo.plugins import get_zoo
from asmr_zoo.threads import threads_option, use_threads


def _command(out: Path, data: Path | None, ids: list[str], triggers: list[str], seconds: float, seed: int) -> str:
    """The command line that makes this report, shown on the page."""
    args = ["asmr-zoo", "report", "--out", str(out)]
    args += ["--data", str(data)] if data is not None else []
    args += [a for i in ids for a in ("--id", i)] + [a for t in triggers for a in ("--trigger", t)]
    return shlex.join([*args, "--seconds", f"{seconds:g}", "--seed", str(seed)])


@app.command("report")
def report_command(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder for the site (its parent must exist; a re-run redoes only what changed)."
    ),
    data: Path = typer.Option(
        None, "--data", "-d", help="A data set: a real held-out clip per trigger, and a classifier on its train split."
    ),
    checkpoint_ids: list[str] = typer.Option(
        None,
        "--id",
        help="Checkpoints to compare, one column each (repeatable; default: every model/conditioner pair).",
    ),
    triggers: list[str] = typer.Option(
        None, "--trigger", "-t", help="Triggers to show, one row each (repeatable; default: all the columns serve)."
    ),
    seconds: float = typer.Option(4.0, "--seconds", "-s", help="Seconds per clip."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same command writes the same audio."),
    channels: int = typer.Option(
        1, "--channels", help="2: stereo clips, the generated ones placed by the registered pan prior."
    ),
    threads: int = threads_option(),
) -> None:
    """Write a static listening report: real and generated clips side by side with players, spectrograms and
    waveforms, the eval metrics per clip and per model, Figure 8 per conditioned checkpoint and a model card per
    checkpoint. Open OUT/index.html in a browser (it needs no server and no network)."""
    from asmr_zoo.report import build_report, check_out, plan_report

    ids, rows = list(checkpoint_ids or []), list(triggers or [])
    check_out(out)
    use_threads(threads)
    note = lambda text: err_console.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    command = _command(out, data, ids, rows, seconds, seed) + (" --channels 2" if channels == 2 else "")
    plan = plan_report(ids, rows, seconds, seed, data, command, get_zoo(), note, channels)
    done = build_report(plan, out, note)
    err_console.print(
        f"wrote {out / 'index.html'}: {len(plan.triggers)} triggers x {len(plan.columns)} columns, "
        f"{done['checkpoints']} checkpoints, {done['figures']} embedding figures; "
        f"{done['generated']} clips made, {done['reused']} reused",
        highlight=False,
        soft_wrap=True,
    )
