"""Train and evaluate the mono-to-stereo upmixer of :mod:`asmr_zoo.upmix` on a data set's stereo clips.

Evaluation follows 2.5D Visual Sound (Gao & Grauman, CVPR 2019): 16 kHz, each clip scaled by its real stereo
pair's peak, then

- STFT distance: per channel the mean squared difference of the real and imaginary parts of the STFT (n_fft 512,
  hop 160, window 400), summed over the two channels;
- envelope distance: per channel the RMS difference of the Hilbert envelopes, summed over the two channels;

for the upmixer and for the dual-mono baseline (L = R = the mid), on the held-out (test) videos. Lower is
better. The set-level spatial distances of :mod:`asmr_zoo.spatial` (1-D Wasserstein per statistic) compare
both with the real stereo, since a mid can be upmixed plausibly without matching the recording.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.stereo_data import StereoClip, stereo_clips
from asmr_zoo.upmix import RATE, UpmixConfig, UpmixNet, load_upmixer, mid_side, save_upmixer, stft
from asmr_zoo.validation import check_seed

Progress = Callable[[str, int, int], None]  # stage, done, total


def crops(clips: Sequence[StereoClip], batch: int, length: int, rng: np.random.Generator) -> torch.Tensor:
    """``(batch, 2, length)`` random crops of random clips (zero-padded when a clip is shorter), each scaled
    to unit peak (the evaluation's normalisation); silent crops stay silent."""
    out = np.zeros((batch, 2, length), np.float32)
    for i in range(batch):
        audio = clips[rng.integers(len(clips))].audio
        start = rng.integers(max(1, audio.shape[1] - length + 1))
        piece = audio[:, start : start + length]
        peak = np.abs(piece).max()
        out[i, :, : piece.shape[1]] = piece / peak if peak > 0 else piece
    return torch.from_numpy(out)


@dataclass(frozen=True)
class UpmixTraining:
    """How the upmixer trains."""

    steps: int = 2000
    batch: int = 16
    crop_seconds: float = 2.0
    lr: float = 1e-3
    seed: int = 0
    save_every: int = 200

    def check(self) -> UpmixTraining:
        check_seed(self.seed)
        if self.steps < 1 or self.save_every < 1:
            raise UsageError("--steps and the save interval must be at least 1")
        if not 1 <= self.batch <= 256:
            raise UsageError(f"--batch must be between 1 and 256 crops, not {self.batch}")
        if not 0.1 <= self.crop_seconds <= 60:
            raise UsageError(f"--crop-seconds must be between 0.1 and 60, not {self.crop_seconds:g}")
        if not 0 < self.lr < 1:
            raise UsageError(f"--lr must be between 0 and 1, not {self.lr:g}")
        return self


def train_upmixer(
    data: Path,
    out: Path,
    how: UpmixTraining,
    config: UpmixConfig = UpmixConfig(),
    resume: bool = False,
    progress: Progress | None = None,
) -> tuple[UpmixNet, int]:
    """Train on the train split's stereo clips. Every ``save_every`` steps the loss on fixed crops of the test
    split's clips is measured, and ``out`` keeps the weights that scored best so far, starting from the fresh
    network (which is dual mono): where the side cannot be predicted, the upmixer stays dual mono instead of
    guessing. ``resume`` continues from ``out``'s weights and step, with fresh Adam moments. Returns the
    network kept and the steps done."""
    from asmr_zoo.checkpoints import read_metadata

    how.check()
    clips = stereo_clips(data, RATE)
    train = [c for c in clips if c.split == "train"]
    held_out = [c for c in clips if c.split == "test"]
    if not train or not held_out:
        raise DataError(
            f"{data} needs stereo clips in both its train and test splits (it has {len(train)} and "
            f"{len(held_out)}): add videos, or rebuild it"
        )
    length = int(how.crop_seconds * RATE)
    check = crops(held_out, 32, length, np.random.default_rng(12_345))
    torch.manual_seed(how.seed)  # the initial weights
    net, step = UpmixNet(config), 0
    if resume:
        net = load_upmixer(out)
        step = int(read_metadata(out).get("extra.step", "0"))
    best, best_loss = copy.deepcopy(net.state_dict()), held_out_loss(net, check)
    torch.manual_seed((how.seed + step) % 2**64)
    rng = np.random.default_rng(how.seed + step)
    optimiser = torch.optim.Adam(net.parameters(), lr=how.lr)
    extra = {"triggers": json.dumps(sorted({c.trigger for c in train})), "trained_on": str(data)}
    while step < how.steps:
        net.train()
        loss = net.loss(crops(train, how.batch, length, rng))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if progress:
            progress(f"training (loss {loss.item():.2e}, held-out best {best_loss:.2e})", step, how.steps)
        if step % how.save_every == 0 or step == how.steps:
            if (current := held_out_loss(net, check)) < best_loss:
                best, best_loss = copy.deepcopy(net.state_dict()), current
            kept = UpmixNet(net.config)
            kept.load_state_dict(best)
            save_upmixer(out, kept, {**extra, "step": str(step), "held_out_loss": f"{best_loss:.6g}"})
    net.load_state_dict(best)
    return net.eval(), step


@torch.no_grad()
def held_out_loss(net: UpmixNet, check: torch.Tensor) -> float:
    """The training loss on fixed held-out crops."""
    net.eval()
    return float(net.loss(check))


def _hilbert_envelope(x: np.ndarray) -> np.ndarray:
    """|analytic signal| of each row (the FFT's negative frequencies zeroed, positive ones doubled)."""
    n = x.shape[-1]
    spectrum = np.fft.fft(x, axis=-1)
    gain = np.zeros(n)
    gain[0] = 1
    gain[1 : (n + 1) // 2] = 2
    if n % 2 == 0:
        gain[n // 2] = 1
    return np.abs(np.fft.ifft(spectrum * gain, axis=-1))


def distances(predicted: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """The 2.5D Visual Sound distances of a ``(2, n)`` prediction from the ``(2, n)`` real pair (module
    docstring), both scaled by the real pair's peak."""
    peak = float(np.abs(real).max()) or 1.0
    p, r = torch.from_numpy(predicted / peak), torch.from_numpy(real / peak)
    stft_distance = float(torch.view_as_real(stft(p) - stft(r)).pow(2).mean(dim=(1, 2, 3)).sum())
    env = _hilbert_envelope(predicted / peak) - _hilbert_envelope(real / peak)
    return {"stft": stft_distance, "envelope": float(np.sqrt((env**2).mean(axis=-1)).sum())}


def evaluate_upmixer(net: UpmixNet, data: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Upmix each held-out clip's mid and compare with the real stereo and with the dual-mono baseline: the
    clip-level 2.5D distances (mean over clips, and per trigger) and the set-level spatial distances."""
    from asmr_zoo.spatial import analyse, pool, set_distances
    from asmr_zoo.upmix import upmix

    test = [c for c in stereo_clips(data, RATE) if c.split == "test"]
    if not test:
        raise DataError(f"{data} has no stereo clips in its test split: evaluate on a data set with held-out videos")
    scores: dict[str, dict[str, list[float]]] = {"upmix": {}, "dual_mono": {}}
    analyses: dict[str, list] = {"real": [], "upmix": [], "dual_mono": []}
    per_trigger: dict[str, dict[str, list[float]]] = {}
    for done, clip in enumerate(test, 1):
        mid, _ = mid_side(torch.from_numpy(clip.audio))
        outputs = {"upmix": upmix(net, mid.numpy(), RATE), "dual_mono": np.stack([mid.numpy()] * 2)}
        analyses["real"].append(analyse(clip.audio, RATE))
        for name, predicted in outputs.items():
            for metric, value in distances(predicted, clip.audio).items():
                scores[name].setdefault(metric, []).append(value)
                per_trigger.setdefault(clip.trigger, {}).setdefault(f"{name}_{metric}", []).append(value)
            analyses[name].append(analyse(predicted, RATE))
        if progress:
            progress("upmixing held-out clips", done, len(test))
    real = pool(analyses["real"])
    return {
        "clips": len(test),
        "sample_rate": RATE,
        "distances": {name: {m: float(np.mean(v)) for m, v in s.items()} for name, s in scores.items()},
        "triggers": {t: {k: float(np.mean(v)) for k, v in s.items()} for t, s in sorted(per_trigger.items())},
        "spatial": {name: set_distances(pool(analyses[name]), real) for name in ("upmix", "dual_mono")},
    }
