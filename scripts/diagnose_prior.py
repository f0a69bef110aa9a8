"""Is a band model's trigger lost in its loudness prior or in its sample model? Classify the prior alone.

Each clip here is white noise shaped, band by band and frame by frame, to a track of band levels
(``asmr_zoo.envelope.enforce_bands``, the post-filter generation ends with): the levels of real held-out clips
(the ceiling: what the band track alone can carry), and the levels the checkpoint's prior draws free-running
from the trigger (what generation gets). The classifier is `asmr-zoo eval`'s, fitted on the data set's
train split. If the real tracks are recognised and the prior's are not, the prior has lost the trigger,
whatever the sample model does; the script also prints the share of frames each band is left at its floor.

    python scripts/diagnose_prior.py checkpoints/wavernn-concat-bands-long.safetensors --data runs/shipped/held-out
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from asmr_zoo.api import load
from asmr_zoo.dataset import read_dataset
from asmr_zoo.envelope import EnvelopeState, enforce_bands, frame_levels, next_frame
from asmr_zoo.evaluation import audio_clips
from asmr_zoo.generation_metrics import TriggerClassifier, recognition


def render(track: torch.Tensor, levels: int, hop: int, seed: int) -> np.ndarray:
    """White noise ``(frames * hop,)`` shaped to ``track`` ``(frames, bands)``."""
    noise = torch.randn(1, track.shape[0] * hop, generator=torch.Generator().manual_seed(seed)) * 0.5
    return enforce_bands(noise.clamp(-1, 1), track[None], levels, hop)[0].numpy()


def prior_tracks(
    model, triggers: list[str], clips: int, frames: int, seed: int, temperature: float = 1.0
) -> torch.Tensor:
    """The prior's free-running draws ``(len(triggers) * clips, frames, bands)``, sampled at ``temperature``."""
    asked = [t for t in triggers for _ in range(clips)]
    state = model.init_state(len(asked), model.conditioner.encode(asked))
    env: EnvelopeState = state.envelope
    generator = torch.Generator().manual_seed(seed)

    def pick(logits: torch.Tensor) -> torch.Tensor:
        return torch.multinomial(torch.softmax(logits.float() / temperature, -1), 1, generator=generator)[:, 0]

    with torch.no_grad():
        for _ in range(frames):
            next_frame(model.frame_prior(), env, pick)
    return torch.stack(env.track, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="a data set with train and test rows")
    parser.add_argument("--clips", type=int, default=8, help="prior tracks per trigger")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0, help="the prior's sampling temperature")
    parser.add_argument("--guidance", type=float, help="the prior's trigger guidance (default: the checkpoint's)")
    args = parser.parse_args()
    if not 0 < args.temperature <= 10:
        parser.error(f"--temperature must be in (0, 10], not {args.temperature}")

    model = load(args.checkpoint).model.eval()
    if args.guidance is not None:
        model.use_guidance(args.guidance)
    prior = model.frame_prior()
    if prior is None or prior.bands == 1:
        raise SystemExit(f"{args.checkpoint} has no band prior (model.envelope_bands > 1)")
    rate, hop, levels = model.sample_rate, model.hop, prior.levels
    rows = read_dataset(args.data)
    triggers = sorted(model.conditioner.vocabulary)
    classifier = TriggerClassifier(audio_clips([r for r in rows if r.split == "train"], rate), rate)
    frames = round(args.seconds * rate / hop)

    real, real_tracks = [], []
    for i, (trigger, wav) in enumerate(audio_clips([r for r in rows if r.split == "test"], rate)):
        track = frame_levels(torch.from_numpy(wav)[None, : frames * hop], hop, levels, prior.bands)[0]
        real.append((trigger, render(track, levels, hop, args.seed + i)))
        real_tracks.append((trigger, track))
    drawn = prior_tracks(model, triggers, args.clips, frames, args.seed, args.temperature)
    asked = [t for t in triggers for _ in range(args.clips)]
    pairs = enumerate(zip(asked, drawn, strict=True))
    drawn_clips = [(t, render(track, levels, hop, args.seed + i)) for i, (t, track) in pairs]

    real_rec, prior_rec = recognition(classifier, real, rate), recognition(classifier, drawn_clips, rate)
    accuracy = f"real {real_rec['accuracy']:.1%}, prior {prior_rec['accuracy']:.1%}"
    print(f"band tracks rendered as noise, recognised: {accuracy}")
    print(f"{'trigger':<20} {'real':>6} {'prior':>6}   floor share per band, real | prior")
    for t in triggers:
        ours = torch.cat([track for u, track in real_tracks if u == t]) if any(u == t for u, _ in real_tracks) else None
        theirs = drawn[[i for i, u in enumerate(asked) if u == t]].flatten(0, 1)
        floor = " ".join(f"{v:.2f}" for v in (ours == 0).float().mean(0)) if ours is not None else "-"
        mine = " ".join(f"{v:.2f}" for v in (theirs == 0).float().mean(0))
        print(f"{t:<20} {real_rec['recall'].get(t, 0):>6.0%} {prior_rec['recall'].get(t, 0):>6.0%}   {floor} | {mine}")


if __name__ == "__main__":
    main()
