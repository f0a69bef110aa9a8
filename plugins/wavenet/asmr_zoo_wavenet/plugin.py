"""Registers WaveNet and its global conditioner (lazily: listing them does not import torch)."""

from asmr_zoo import hookimpl


@hookimpl
def register_models(register):
    register(
        "wavenet",
        "asmr_zoo_wavenet.model:WaveNet",
        "WaveNet: gated dilated causal convolutions, mu-law 256 classes, cached fast generation",
    )


@hookimpl
def register_conditioners(register):
    register(
        "global",
        "asmr_zoo_wavenet.model:GlobalConditioner",
        "a learned trigger embedding added to every layer's filter and gate (WaveNet eq. 6)",
    )
