"""The typer app: core commands plus whatever plugins add through ``register_commands``."""

from __future__ import annotations

import sys
import warnings

import typer

from asmr_zoo import __version__
from asmr_zoo.errors import AsmrZooError, is_out_of_memory, one_line, os_error_line, out_of_memory_line

app = typer.Typer(
    name="asmr-zoo",
    help="A model zoo for generating ASMR trigger sounds with WaveRNN and WaveNet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"asmr-zoo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """A model zoo for generating ASMR trigger sounds with WaveRNN and WaveNet."""


def build_app() -> typer.Typer:
    """The app with the core commands and the plugins' commands registered."""
    from asmr_zoo.cli import commands, report, stereo, train_eval  # noqa: F401  (they register the core commands on ``app``)
    from asmr_zoo.plugins import get_zoo

    get_zoo(app=app)
    return app


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one ``warning: ...`` line on stderr, without the source line Python shows."""
    typer.secho(f"warning: {one_line(str(message))}", fg="yellow", err=True)


def main() -> None:
    warnings.showwarning = _show_warning
    try:
        build_app()(standalone_mode=True)
    except AsmrZooError as exc:
        typer.secho(f"error: {one_line(str(exc))}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a full disk, a read-only mount, a directory where a file should be: one line
        typer.secho(f"error: {one_line(os_error_line(exc))}", fg="red", err=True)
        sys.exit(1)
    except (MemoryError, RuntimeError) as exc:  # torch reports a failed allocation as a RuntimeError
        if not is_out_of_memory(exc):
            raise
        typer.secho(f"error: {out_of_memory_line(exc)}", fg="red", err=True)
        sys.exit(1)
    except SystemExit as exc:
        if exc.code == 130:  # click turned Ctrl-C into exit 130; files are written atomically, none is half-done
            typer.secho(
                "interrupted (Ctrl-C): the files reported as written are complete; nothing else was written",
                fg="yellow",
                err=True,
            )
        raise
