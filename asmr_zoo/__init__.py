"""asmr-zoo: a plugin-based model zoo for generating ASMR trigger sounds.

Plugins implement hooks marked with ``asmr_zoo.hookimpl`` (see ``asmr_zoo.hookspecs``).
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("asmr_zoo")

__all__ = ["__version__", "hookimpl"]
