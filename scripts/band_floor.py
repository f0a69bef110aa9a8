"""How far a checkpoint's generated audio sits above the real audio's floor, band by band.

    python scripts/band_floor.py --id wavernn-gate-bias-envelope --trigger tapping_glass --data runs/shipped/held-out

Prints the mean quantised level (0-31, 2.25 dB steps above -72 dBFS) of 8 mel-spaced bands per 10 ms frame
(``asmr_zoo.envelope.frame_levels``) for real held-out clips of the trigger and for clips generated at each
``--temperature``. A generated band far above the real one where the real audio is silent is a noise floor
that the sample model adds.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from asmr_zoo.api import load
from asmr_zoo.dataset import read_dataset
from asmr_zoo.envelope import frame_hop, frame_levels
from asmr_zoo.evaluation import audio_clips

LEVELS, BANDS = 32, 8


def band_levels(wav: np.ndarray, rate: int) -> np.ndarray:
    """Mean level of each band over the frames of ``wav`` ``(clips, samples)``."""
    return (
        frame_levels(torch.as_tensor(wav, dtype=torch.float32), frame_hop(rate), LEVELS, BANDS)
        .float()
        .mean((0, 1))
        .numpy()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", required=True, help="a registered checkpoint id (or a .safetensors path)")
    parser.add_argument("--trigger", required=True)
    parser.add_argument("--data", required=True, help="a data set with held-out (test) clips of the trigger")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--temperature", type=float, action="append", help="repeatable (default: 1.0 and 0.5)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = load(args.id)
    rate, length = gen.sample_rate, round(args.seconds * gen.sample_rate)
    rows = [r for r in read_dataset(args.data) if r.trigger == args.trigger and r.split == "test"][: args.clips]
    real = np.stack([w[:length] for _, w in audio_clips(rows, rate) if len(w) >= length])
    print(f"{'':<16}" + "".join(f"band {b:<3}" for b in range(BANDS)))
    print(f"{'real':<16}" + "".join(f"{v:<8.1f}" for v in band_levels(real, rate)))
    for temperature in args.temperature or [1.0, 0.5]:
        wav = gen.generate(args.trigger, seconds=args.seconds, seed=0, batch=args.clips, temperature=temperature)
        print(f"{f'T={temperature:g}':<16}" + "".join(f"{v:<8.1f}" for v in band_levels(wav, rate)))


if __name__ == "__main__":
    main()
