"""asmr-zoo: a plugin-based model zoo for generating ASMR trigger sounds.

Plugins implement hooks marked with ``asmr_zoo.hookimpl`` (see ``asmr_zoo.hookspecs``); the Python API is
``asmr_zoo.generate``, ``asmr_zoo.load`` and ``asmr_zoo.list_checkpoints`` (see ``asmr_zoo.api``).
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("asmr_zoo")

__all__ = ["__version__", "generate", "hookimpl", "list_checkpoints", "load"]

_API = ("generate", "list_checkpoints", "load")


def __getattr__(name: str):  # the API loads on first use, so `import asmr_zoo` stays light (no torch)
    if name in _API:
        from asmr_zoo import api

        return getattr(api, name)
    raise AttributeError(f"module 'asmr_zoo' has no attribute {name!r}")
