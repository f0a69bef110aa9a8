"""The plugin hooks. Each takes a ``register`` callback rather than returning values.

``register(name, target, description="")`` where ``target`` is the component class (or any callable
that builds it) or, so that listing stays free of torch, a ``"module:attr"`` string imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("asmr_zoo")

Register = Callable[..., None]


@hookspec
def register_models(register: Register) -> None:
    """Register Model classes (``asmr_zoo.interfaces.Model``)."""


@hookspec
def register_conditioners(register: Register) -> None:
    """Register Conditioner classes."""


@hookspec
def register_samplers(register: Register) -> None:
    """Register Sampler classes."""


@hookspec
def register_codecs(register: Register) -> None:
    """Register Codec classes."""


@hookspec
def register_sources(register: Register) -> None:
    """Register DataSource classes."""


@hookspec
def register_registry_files(register: Callable[[Any], None]) -> None:
    """Register checkpoint registry YAML files: ``register(path)``; relative weight paths resolve
    against the file's own directory."""


@hookspec
def register_commands(app: Any) -> None:
    """Add commands to the ``asmr-zoo`` typer app."""
