"""Stereo generation: a trigger's place between the ears, drawn frame by frame, for a mono generator's output.

A stereo clip is factorised into a shared part and a difference (mid and side), and the side is generated
conditioned on the mid, at the rate at which a recording's stereo image moves (tenths of a second):

    p(L, R) = p(m) p(d | trigger),  d_k = ILD of frame k = 10 log10(E_R,k / E_L,k)     (dB, frames of 50 ms)
    L = sqrt(2) cos(theta(t)) m,  R = sqrt(2) sin(theta(t)) m,  tan(theta_k) = 10^(d_k / 20)   (equal power)

``m`` comes from any mono checkpoint (the sample model); ``p(d | trigger)`` is an autoregressive prior over
quantised ILD (the GRU of :class:`asmr_zoo.envelope.EnvelopePrior`, reading a trigger embedding), so the
image moves as the trigger's recordings move (massaging on a binaural mic swaps ears; brushing drifts).
theta is interpolated linearly between frame centres, so the image glides; at d = 0 both channels are m
(dual mono). Quiet frames carry no direction: in the training targets they hold the last loud frame's ILD.
The image is carried by level alone (no interaural delay): :mod:`asmr_zoo.spatialize` renders delays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from asmr_zoo.checkpoints import PAN_PRIOR
from asmr_zoo.envelope import EnvelopePrior
from asmr_zoo.errors import UsageError
from asmr_zoo.validation import check_seed

FRAME_SECONDS = 0.05
ILD_LIMIT_DB = 30.0
LEVELS = 31  # 2 dB steps over +-30 dB
QUIET_DB = -50.0  # frames whose mean power is this far under full scale carry no direction
EMBEDDING = 16


def frame_ild(stereo: np.ndarray, rate: int) -> np.ndarray:
    """Per frame of ``FRAME_SECONDS``, the ILD (dB) of ``(2, samples)`` audio, clipped to +-``ILD_LIMIT_DB``;
    quiet frames hold the ILD of the last loud one (the first loud one's before it; 0 if none is loud)."""
    hop = max(1, round(FRAME_SECONDS * rate))
    frames = stereo.shape[1] // hop
    power = np.square(stereo[:, : frames * hop].astype(np.float64)).reshape(2, frames, hop).mean(-1)
    ild = 10 * np.log10((power[1] + 1e-12) / (power[0] + 1e-12))
    loud = 10 * np.log10(power.mean(0) + 1e-12) > QUIET_DB
    if not loud.any():
        return np.zeros(frames)
    held = np.maximum.accumulate(np.where(loud, np.arange(frames), -1))
    held[held < 0] = np.flatnonzero(loud)[0]
    return np.clip(ild[held], -ILD_LIMIT_DB, ILD_LIMIT_DB)


def quantise(ild: np.ndarray) -> np.ndarray:
    """ILD (dB) -> level index 0 .. LEVELS - 1."""
    step = 2 * ILD_LIMIT_DB / (LEVELS - 1)
    return np.clip(np.round((ild + ILD_LIMIT_DB) / step), 0, LEVELS - 1).astype(np.int64)


def level_db(levels: np.ndarray) -> np.ndarray:
    """Level index -> ILD (dB)."""
    return levels * (2 * ILD_LIMIT_DB / (LEVELS - 1)) - ILD_LIMIT_DB


def render(mono: np.ndarray, rate: int, ild_db: np.ndarray) -> np.ndarray:
    """``(samples,)`` mono -> ``(2, samples)``: equal-power panning along the per-frame ILD (module docstring)."""
    n = len(mono)
    hop = FRAME_SECONDS * rate
    theta_k = np.arctan(10 ** (np.asarray(ild_db, np.float64) / 20))
    centres = (np.arange(len(theta_k)) + 0.5) * hop
    theta = np.interp(np.arange(n), centres, theta_k) if len(theta_k) else np.full(n, np.pi / 4)
    return (np.sqrt(2) * np.stack([np.cos(theta), np.sin(theta)]) * mono).astype(np.float32)


def limit_peak(stereo: np.ndarray, ceiling: float = 0.891) -> tuple[np.ndarray, float]:
    """Scale ``stereo`` down to a peak of ``ceiling`` (-1 dBFS) when it is louder; the gain in dB (0: none)."""
    peak = float(np.abs(stereo).max()) if stereo.size else 0.0
    if peak <= ceiling:
        return stereo, 0.0
    return (stereo * (ceiling / peak)).astype(np.float32), float(20 * np.log10(ceiling / peak))


class PanPrior(nn.Module):
    """p(d_k | d_<k, trigger) over quantised ILD levels."""

    def __init__(self, vocabulary: list[str], hidden: int = 64) -> None:
        super().__init__()
        if not vocabulary:
            raise UsageError("a pan prior needs at least one trigger")
        if not 8 <= hidden <= 1024:
            raise UsageError(f"the pan prior's hidden size must be 8-1024, not {hidden}")
        self.vocabulary, self.hidden = list(vocabulary), hidden
        self.triggers = nn.Embedding(len(vocabulary), EMBEDDING)
        self.prior = EnvelopePrior(LEVELS, hidden, EMBEDDING)

    def index(self, trigger: str) -> int:
        if trigger not in self.vocabulary:
            raise UsageError(f"the pan prior knows {', '.join(self.vocabulary)}, not '{trigger}'")
        return self.vocabulary.index(trigger)

    def loss(self, levels: torch.Tensor, triggers: torch.Tensor) -> torch.Tensor:
        """Mean -log p of ``(B, F)`` levels given ``(B,)`` trigger indices (nats per frame)."""
        logits = self.prior(levels[..., None], self.triggers(triggers))
        return nn.functional.cross_entropy(logits.flatten(0, -2), levels.reshape(-1))

    @torch.no_grad()
    def sample(self, trigger: str, frames: int, batch: int = 1, seed: int | None = 0) -> np.ndarray:
        """``(batch, frames)`` ILD trajectories (dB) drawn for ``trigger`` (``seed`` None: a fresh random one)."""
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed % 2**64)  # callers offset one seed per clip
        h = self.triggers(torch.full((batch,), self.index(trigger), dtype=torch.long))
        previous, state = self.prior.start(batch)
        drawn = []

        def pick(logits: torch.Tensor) -> torch.Tensor:
            return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]

        for _ in range(frames):
            previous, state = self.prior.step(previous, state, h, pick)
            drawn.append(previous[:, 0, 0])
        levels = torch.stack(drawn, 1) if drawn else torch.zeros(batch, 0, dtype=torch.long)
        return level_db(levels.numpy())

    def pan(self, mono: np.ndarray, rate: int, trigger: str, seed: int | None = 0) -> tuple[np.ndarray, float]:
        """``(samples,)`` mono -> ``(2, samples)`` placed along a trajectory drawn for ``trigger``, brought
        under -1 dBFS if the placing made it louder (:func:`limit_peak`); also that gain in dB (0: none)."""
        frames = int(np.ceil(len(mono) / (FRAME_SECONDS * rate)))
        return limit_peak(render(mono, rate, self.sample(trigger, frames, seed=seed)[0]))


def save_pan_prior(path: Path, prior: PanPrior, extra: dict[str, str] | None = None) -> str:
    """Write the prior as an asmr-zoo checkpoint of kind ``PAN_PRIOR`` (atomically); returns its sha256."""
    from asmr_zoo.checkpoints import save_auxiliary

    config = {"hidden": prior.hidden, "levels": LEVELS, "frame_seconds": FRAME_SECONDS}
    extra = {"triggers": json.dumps(prior.vocabulary), **(extra or {})}
    return save_auxiliary(path, PAN_PRIOR, prior, config, prior.vocabulary, extra)


def _build(meta: dict[str, str]) -> PanPrior:
    """The prior a checkpoint's metadata describes, if this asmr-zoo's frames and levels are its."""
    config = json.loads(meta["config"])
    if config.get("levels") != LEVELS or config.get("frame_seconds") != FRAME_SECONDS:
        raise ValueError(f"made for {config.get('levels')} levels of {config.get('frame_seconds')} s frames")
    return PanPrior(json.loads(meta["vocabulary"]), int(config["hidden"]))


def load_pan_prior(path: Path, sha256: str | None = None) -> PanPrior:
    """A prior saved by :func:`save_pan_prior`; another kind of file, or one that does not fit, is one line."""
    from asmr_zoo.checkpoints import load_auxiliary

    return load_auxiliary(path, PAN_PRIOR, _build, sha256)


@dataclass(frozen=True)
class PanTraining:
    """How the pan prior trains: crops of ``crop_frames`` frames (shorter clips are used whole)."""

    steps: int = 1500
    batch: int = 32
    crop_frames: int = 120
    lr: float = 3e-3
    seed: int = 0

    def check(self) -> PanTraining:
        check_seed(self.seed)
        if self.steps < 1 or self.crop_frames < 2:
            raise UsageError("--steps must be at least 1, the crop at least 2 frames")
        if not 1 <= self.batch <= 4096:
            raise UsageError(f"--batch must be between 1 and 4096 clips, not {self.batch}")
        if not 0 < self.lr < 1:
            raise UsageError(f"--lr must be between 0 and 1, not {self.lr:g}")
        return self
