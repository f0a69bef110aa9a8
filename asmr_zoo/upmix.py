"""Mono to stereo: predict the side (L - R)/2 from the mid (L + R)/2 with a complex mask on the STFT.

As in "Telling Left from Right" (Yang, Russell & Salamon, CVPR 2020), the stereo pair is written as its sum
and difference, and the difference is predicted from the sum by a mask on the sum's short-time spectrum:

    M = (L + R) / 2,  S = (L - R) / 2                                   (mid and side)
    S_hat(t, f) = A(t, f) * M(t, f),   A = net(log |M|)                 (the paper's eq. 1: a complex mask)
    L_hat = M + S_hat,  R_hat = M - S_hat                               (the input stays the mid)

``A`` is complex (real and imaginary parts bounded by tanh), and ``net`` a stack of dilated 1-D convolutions
over STFT frames with the frequency bins as channels; it looks ``radius`` frames either way (offline, not
causal). Training minimises |S_hat - S|^2 over the spectrum (the paper's L2 on the difference spectrogram) on
crops of stereo clips, each crop scaled to unit peak. The spectrum is the 2.5D Visual Sound evaluation's
(16 kHz, n_fft 512, hop 160, window 400). Inverse STFTs overlap-add with the squared-window normalisation,
so neighbouring windows cross-fade, and long inputs are processed in blocks whose margins cover the
receptive field, so a block boundary changes nothing (``upmix`` equals one pass over the whole clip).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from asmr_zoo.checkpoints import UPMIXER
from asmr_zoo.errors import UsageError

RATE = 16_000
N_FFT, HOP, WIN = 512, 160, 400
BINS = N_FFT // 2 + 1
BLOCK_SECONDS = 30.0  # long inputs go through the network this many seconds at a time
EPS = 1e-5


@dataclass(frozen=True)
class UpmixConfig:
    """The mask network's size."""

    hidden: int = 128
    layers: int = 5  # dilations 1, 2, 4, ...
    kernel: int = 5

    def check(self) -> UpmixConfig:
        if not (8 <= self.hidden <= 1024 and 1 <= self.layers <= 10 and self.kernel in (3, 5, 7)):
            raise UsageError(f"upmix config {asdict(self)}: hidden must be 8-1024, layers 1-10, kernel 3, 5 or 7")
        return self


def stft(wave: torch.Tensor) -> torch.Tensor:
    """``(batch, samples)`` -> complex ``(batch, BINS, frames)``."""
    window = torch.hann_window(WIN, device=wave.device)
    return torch.stft(wave, N_FFT, HOP, WIN, window, center=True, return_complex=True)


def istft(spec: torch.Tensor, length: int) -> torch.Tensor:
    """The inverse of :func:`stft`: windowed overlap-add, ``length`` samples."""
    window = torch.hann_window(WIN, device=spec.device)
    return torch.istft(spec, N_FFT, HOP, WIN, window, center=True, length=length)


def mid_side(stereo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., 2, samples)`` -> mid (L + R)/2 and side (L - R)/2."""
    left, right = stereo[..., 0, :], stereo[..., 1, :]
    return (left + right) / 2, (left - right) / 2


class Block(nn.Module):
    """A residual dilated convolution over frames."""

    def __init__(self, hidden: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(hidden, hidden, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.mix = nn.Conv1d(hidden, hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(torch.relu(self.conv(x)))


class UpmixNet(nn.Module):
    """The complex mask A = net(log |M|) of the module docstring."""

    def __init__(self, config: UpmixConfig = UpmixConfig()) -> None:
        super().__init__()
        self.config = config.check()
        self.inp = nn.Conv1d(BINS, config.hidden, 1)
        self.blocks = nn.ModuleList(Block(config.hidden, config.kernel, 2**i) for i in range(config.layers))
        self.out = nn.Conv1d(config.hidden, 2 * BINS, 1)
        nn.init.zeros_(self.out.weight)  # A = 0 at the start: training begins at the dual-mono baseline
        nn.init.zeros_(self.out.bias)

    @property
    def radius(self) -> int:
        """Frames the mask at one frame depends on, either way."""
        return (self.config.kernel - 1) // 2 * (2**self.config.layers - 1)

    def forward(self, mid_spec: torch.Tensor) -> torch.Tensor:
        """Complex ``(batch, BINS, frames)`` mid spectrum -> the predicted side spectrum (eq. 1)."""
        x = self.inp(torch.log(mid_spec.abs() + EPS))
        for block in self.blocks:
            x = block(x)
        real, imag = torch.tanh(self.out(x)).chunk(2, dim=1)
        return torch.complex(real, imag) * mid_spec  # S_hat = A * M

    def loss(self, stereo: torch.Tensor) -> torch.Tensor:
        """Mean |S_hat - S|^2 over the spectrum, for ``(batch, 2, samples)`` crops."""
        mid, side = mid_side(stereo)
        return (self(stft(mid)) - stft(side)).abs().pow(2).mean()

    @torch.no_grad()
    def side(self, mid: torch.Tensor) -> torch.Tensor:
        """The predicted side of a ``(samples,)`` mid at ``RATE``, block by block (module docstring)."""
        n = mid.shape[-1]
        peak = float(mid.abs().max())
        if peak == 0:
            return torch.zeros_like(mid)
        mid = mid / peak
        block = int(BLOCK_SECONDS * RATE) // HOP * HOP
        margin = (self.radius + N_FFT // HOP + 2) * HOP  # covers the receptive field and the windows' overlap
        out = torch.zeros_like(mid)
        for start in range(0, n, block):
            lo, hi = max(0, start - margin), min(n, start + block + margin)
            piece = mid[lo:hi]
            side = istft(self(stft(piece[None])), hi - lo)[0]
            out[start : min(n, start + block)] = side[start - lo : start - lo + min(block, n - start)]
        return out * peak


def upmix(net: UpmixNet, mono: np.ndarray, rate: int) -> np.ndarray:
    """A ``(samples,)`` mono clip at ``rate`` -> ``(2, samples)``: L = M + S_hat, R = M - S_hat, S_hat predicted
    at 16 kHz and resampled back (above 8 kHz the side is zero)."""
    from asmr_zoo.audio import resample

    mono = np.asarray(mono, dtype=np.float32)
    mid = resample(mono[None], rate, RATE)[0] if rate != RATE else mono
    side = net.side(torch.from_numpy(np.ascontiguousarray(mid))).numpy()
    if rate != RATE:
        side = resample(side[None], RATE, rate)[0]
    side = np.pad(side, (0, max(0, len(mono) - len(side))))[: len(mono)]
    return np.stack([mono + side, mono - side]).astype(np.float32)


def save_upmixer(path: Path, net: UpmixNet, extra: dict[str, str] | None = None) -> str:
    """Write the network as an asmr-zoo checkpoint of kind ``UPMIXER`` (atomically); returns its sha256."""
    from asmr_zoo.checkpoints import save_auxiliary

    return save_auxiliary(path, UPMIXER, net, asdict(net.config), [], extra or {})


def load_upmixer(path: Path, sha256: str | None = None) -> UpmixNet:
    """An upmixer saved by :func:`save_upmixer`; a file of another kind or shape is a one-line error."""
    from asmr_zoo.checkpoints import load_auxiliary

    return load_auxiliary(path, UPMIXER, lambda meta: UpmixNet(UpmixConfig(**json.loads(meta["config"]))), sha256)
