"""Registers the built-in codecs (lazily: listing them does not import torch)."""

from asmr_zoo import hookimpl


@hookimpl
def register_codecs(register):
    register("mulaw8", "asmr_zoo_codecs.codecs:MuLaw8", "mu-law (mu = 255), 256 classes, one head (WaveNet)")
    register(
        "pcm16",
        "asmr_zoo_codecs.codecs:PCM16",
        "16-bit PCM as coarse (high) and fine (low) bytes, two heads (WaveRNN)",
    )
