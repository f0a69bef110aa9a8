"""How many CPU threads torch and the C loops use: one place for the ``--threads`` option and its default.

The default is one thread. Measured on the project's 2-core machines (``benchmarks/``): torch's OpenMP
threads spin-wait, so two of them on a machine with any other load collapse (one WaveNet ``--batch 4``
run took 137 s against 8.9 s; a batch-2 run 391 s against 17 s with one thread), while one thread never
falls off that cliff. Pass ``--threads 2`` on an idle machine for large batches and training.
"""

from __future__ import annotations

import os

import typer

from asmr_zoo.errors import UsageError

DEFAULT_THREADS = 1

OPTION_HELP = "CPU threads for torch and the C loops (default 1: safe on a busy machine; try 2 when idle)."


def threads_option() -> object:
    """The shared typer option ``--threads``."""
    return typer.Option(None, "--threads", help=OPTION_HELP, show_default=False)


def use_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (which the C loops follow) to ``threads`` (None: the default)."""
    import torch

    count = DEFAULT_THREADS if threads is None else threads
    cores = os.cpu_count() or 1
    if not 1 <= count <= 4 * cores:
        raise UsageError(f"--threads must be between 1 and {4 * cores} (this machine has {cores} cores), got {count}")
    torch.set_num_threads(count)
    return count
