"""Train and evaluate the stereo pan prior of :mod:`asmr_zoo.pan_prior` on a data set's stereo clips.

Evaluation: mono mids are placed three ways, along a trajectory the prior draws for the clip's trigger (as
`asmr-zoo run --channels 2` does), as dual mono, and at one random constant pan (ILD uniform in +-30 dB,
seeded); per trigger, the frames of each set are compared with the real held-out stereo clips' frames
statistic by statistic (:func:`asmr_zoo.spatial.set_distances`: 1-D Wasserstein distance and KS statistic).
Lower is closer to the recordings. The mids are the held-out clips' own (L + R)/2, which isolates the prior,
or clips a generator made, which measures what a user gets. Free-running stereo has no paired ground truth,
so only set-level distances are meaningful.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.pan_prior import (
    ILD_LIMIT_DB,
    PanPrior,
    PanTraining,
    frame_ild,
    load_pan_prior,
    quantise,
    render,
    save_pan_prior,
)
from asmr_zoo.stereo_data import stereo_clips

RATE = 16_000  # the rate the clips are analysed at
Progress = Callable[[str, int, int], None]  # stage, done, total
METHODS = ("pan_prior", "dual_mono", "constant_pan")


def train_pan_prior(
    data: Path, out: Path, how: PanTraining, hidden: int = 64, resume: bool = False, progress: Progress | None = None
) -> tuple[PanPrior, int]:
    """Train on the train split's stereo clips, saving ``out`` every 200 steps and at the end (``resume``
    continues from its weights and step, with fresh Adam moments). Returns the prior and the steps done."""
    from asmr_zoo.checkpoints import read_metadata

    how.check()
    train = [c for c in stereo_clips(data, RATE) if c.split == "train"]
    if not train:
        raise DataError(f"{data} has no stereo clips in its train split: add videos, or rebuild it")
    vocabulary = sorted({c.trigger for c in train})
    tracks = [torch.from_numpy(quantise(frame_ild(c.audio, RATE))) for c in train]
    labels = torch.tensor([vocabulary.index(c.trigger) for c in train])
    crop = min(how.crop_frames, min(len(t) for t in tracks))
    if crop < 2:
        raise DataError(f"{data}'s stereo clips are too short for the pan prior (under 0.1 s): rebuild it")
    torch.manual_seed(how.seed)  # the initial weights
    prior, step = PanPrior(vocabulary, hidden), 0
    if resume:
        prior = load_pan_prior(out)
        step = int(read_metadata(out).get("extra.step", "0"))
    torch.manual_seed((how.seed + step) % 2**64)
    rng = np.random.default_rng(how.seed + step)
    optimiser = torch.optim.Adam(prior.parameters(), lr=how.lr)
    prior.train()
    while step < how.steps:
        picks = rng.integers(len(tracks), size=how.batch)
        starts = [rng.integers(len(tracks[i]) - crop + 1) for i in picks]
        batch = torch.stack([tracks[i][s : s + crop] for i, s in zip(picks, starts, strict=True)])
        loss = prior.loss(batch, labels[picks])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if progress:
            progress(f"training (loss {loss.item():.3f} nats/frame)", step, how.steps)
        if step % 200 == 0 or step == how.steps:
            save_pan_prior(out, prior, {"step": str(step), "trained_on": str(data)})
    return prior.eval(), step


def evaluate_pan_prior(
    prior: PanPrior,
    data: Path,
    seed: int = 0,
    progress: Progress | None = None,
    mids: Sequence[tuple[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Set-level spatial distances from the real held-out stereo, per trigger, for the prior and the two
    baselines (module docstring). ``mids``: ``(trigger, mono at RATE)`` clips to place (default: the held-out
    clips' own mids); triggers neither the prior nor the held-out clips have are left out. ``mean`` averages
    each statistic's Wasserstein over triggers."""
    from asmr_zoo.spatial import Pool, analyse, set_distances

    test = [c for c in stereo_clips(data, RATE) if c.split == "test" and c.trigger in prior.vocabulary]
    if not test:
        raise DataError(
            f"{data} has no held-out stereo clips of the prior's triggers ({', '.join(prior.vocabulary)}): "
            f"evaluate on a stereo data set with held-out videos of them"
        )
    if mids is None:
        mids = [(c.trigger, c.audio.mean(axis=0)) for c in test]
    held_out = {c.trigger for c in test}
    mids = [(t, m) for t, m in mids if t in held_out]
    if not mids:
        raise DataError(f"none of the mids to place is of a trigger {data} has held-out stereo clips of")
    rng = np.random.default_rng(seed)
    pools: dict[str, dict[str, Pool]] = defaultdict(lambda: {m: Pool() for m in ("real", *METHODS)})
    for clip in test:
        pools[clip.trigger]["real"].add(analyse(clip.audio, RATE))
    for i, (trigger, mid) in enumerate(mids):
        placed = {
            "pan_prior": prior.pan(mid, RATE, trigger, seed + i)[0],
            "dual_mono": np.stack([mid, mid]),
            "constant_pan": render(mid, RATE, np.full(1, rng.uniform(-ILD_LIMIT_DB, ILD_LIMIT_DB))),
        }
        for method, audio in placed.items():
            pools[trigger][method].add(analyse(audio, RATE))
        if progress:
            progress("placing mids", i + 1, len(mids))
    triggers = {}
    for trigger, pool in sorted(pools.items()):
        if trigger in {t for t, _ in mids}:
            real = pool["real"].result()
            triggers[trigger] = {m: set_distances(pool[m].result(), real) for m in METHODS}
    statistics = next(iter(triggers.values()))["pan_prior"].keys()
    mean = {
        m: {s: round(float(np.mean([t[m][s]["wasserstein"] for t in triggers.values()])), 4) for s in statistics}
        for m in METHODS
    }
    return {"clips": len(mids), "real_clips": len(test), "sample_rate": RATE, "mean": mean, "triggers": triggers}


def generated_mids(
    generator: Path, prior: PanPrior, clips: int, seconds: float, seed: int, progress: Progress | None = None
) -> tuple[list[tuple[str, np.ndarray]], str]:
    """``clips`` clips of ``seconds`` per trigger both ``generator`` (a checkpoint) and the prior serve, made
    as `asmr-zoo run` makes them and resampled to RATE; also the generator's checkpoint name."""
    from asmr_zoo.audio import resample
    from asmr_zoo.checkpoints import load_checkpoint, read_metadata
    from asmr_zoo.evaluation import check_generation, generate_clips
    from asmr_zoo.plugins import get_zoo

    if clips < 1:
        raise UsageError("--generator places generated clips: give --clips 1 or more")
    model = load_checkpoint(generator, zoo=get_zoo())
    served = json.loads(read_metadata(generator).get("extra.triggers", "[]")) or model.conditioner.vocabulary
    triggers = [t for t in served if t in prior.vocabulary]
    if not triggers:
        raise UsageError(
            f"{generator.name} serves {', '.join(served) or 'no named trigger'}, none of which the pan prior "
            f"knows ({', '.join(prior.vocabulary)})"
        )
    check_generation(clips, seconds, len(triggers))
    made = generate_clips(model.eval(), triggers, clips, seconds, seed, progress)
    return [(t, resample(w[None], model.sample_rate, RATE)[0]) for t, w in made], generator.name
