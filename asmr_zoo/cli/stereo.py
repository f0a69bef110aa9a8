"""``asmr-zoo spatialize``: render a mono clip binaurally along a path (numpy loads inside the command)."""

from __future__ import annotations

from pathlib import Path

import typer

from asmr_zoo.cli.app import app
from asmr_zoo.cli.commands import _output_paths, err_console

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
