"""Registers WaveRNN and its conditioners lazily: listing them does not import torch."""

from asmr_zoo import hookimpl


@hookimpl
def register_models(register):
    register(
        "wavernn",
        "asmr_zoo_wavernn.model:WaveRNN",
        "WaveRNN: one GRU-style layer, 16-bit coarse/fine dual softmax (Kalchbrenner et al. 2018)",
    )


@hookimpl
def register_conditioners(register):
    register(
        "gate-bias",
        "asmr_zoo_wavernn.conditioning:GateBias",
        "WaveRNN eq. 2: trigger embedding through a dense layer, added to the gates",
    )
    register(
        "concat",
        "asmr_zoo_wavernn.conditioning:Concat",
        "WaveRNN eq. 3: gate bias plus the trigger embedding concatenated to the state R reads",
    )
