"""Mu-law 8-bit and 16-bit coarse/fine codecs, in pure torch."""

from __future__ import annotations

import math

import torch

from asmr_zoo.errors import DataError
from asmr_zoo.interfaces import Codec


def _checked(wav: torch.Tensor) -> torch.Tensor:
    """Float waveform clipped to [-1, 1]; NaN or infinite samples are an error, never silent garbage."""
    wav = torch.as_tensor(wav)
    if not wav.is_floating_point():
        raise DataError(f"codec input must be a float waveform in [-1, 1], got dtype {wav.dtype}")
    if not torch.isfinite(wav).all():
        bad = int((~torch.isfinite(wav)).sum())
        raise DataError(f"waveform has {bad} NaN or infinite samples; clean the audio before encoding")
    return wav.clamp(-1.0, 1.0)


class MuLaw8(Codec):
    """Mu-law companding (ITU-T G.711 curve, mu = 255) quantised to 256 classes."""

    name = "mulaw8"
    heads = 1
    mu = 255

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        x = _checked(wav).double()
        y = torch.sign(x) * torch.log1p(self.mu * x.abs()) / math.log1p(self.mu)
        return torch.round((y + 1) / 2 * self.mu).long().unsqueeze(-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        y = codes[..., 0].double() / self.mu * 2 - 1
        return (torch.sign(y) * torch.expm1(y.abs() * math.log1p(self.mu)) / self.mu).float()


class PCM16(Codec):
    """16-bit PCM split into coarse (high byte) and fine (low byte) classes, as in WaveRNN."""

    name = "pcm16"
    heads = 2

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        x = _checked(wav).double()
        unsigned = torch.round(x * 32768).clamp(-32768, 32767).long() + 32768
        return torch.stack([unsigned // 256, unsigned % 256], dim=-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        unsigned = codes[..., 0].long() * 256 + codes[..., 1].long()
        return ((unsigned - 32768).double() / 32768).float()
