"""The core's built-in plugin: the ``none`` conditioner, the samplers and the shipped registry."""

from __future__ import annotations

from asmr_zoo import hookimpl
from asmr_zoo.paths import shipped_registry


@hookimpl
def register_conditioners(register):
    register("none", "asmr_zoo.conditioning:NoConditioner", "unconditioned (one model per trigger)")


@hookimpl
def register_samplers(register):
    register(
        "ancestral",
        "asmr_zoo.sampling:AncestralSampler",
        "draw from the softmax with temperature, top-k and nucleus (top-p) filtering",
    )
    register("greedy", "asmr_zoo.sampling:GreedySampler", "always the most likely class (deterministic)")
    register(
        "folded",
        "asmr_zoo.sampling:FoldedSampler",
        "one long clip generated as overlapping folds in a batch, then cross-faded",
    )


@hookimpl
def register_registry_files(register):
    path = shipped_registry()
    if path is not None:
        register(path)
