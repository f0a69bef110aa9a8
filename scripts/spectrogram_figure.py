"""The README's picture: spectrograms of a real held-out clip and of generated clips of one trigger.

    python scripts/spectrogram_figure.py --data runs/shipped/held-out --trigger tapping_glass \
        --id wavenet-global --id wavenet-global-envelope --id wavernn-gate-bias \
        --out docs/images/spectrogram-tapping-glass.png

Each generated clip is what `asmr-zoo run --id ID -t TRIGGER --seconds S --seed N` writes (the same path and
seed). Needs the [plot] extra (matplotlib).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import asmr_zoo
from asmr_zoo.audio import read_audio, resample
from asmr_zoo.dataset import read_dataset


def log_spectrogram(wav: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(wav, n_fft)[::hop] * np.hanning(n_fft)
    return 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-10).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a data set; its first held-out clip is shown")
    parser.add_argument("--trigger", default="tapping_glass")
    parser.add_argument("--id", action="append", required=True, help="checkpoint ids (repeatable)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = next(r for r in read_dataset(args.data) if r.split == "test" and r.trigger == args.trigger)
    audio, rate = read_audio(row.path)
    panels = [(f"real held-out clip ({row.video_id})", audio.mean(axis=0)[: int(args.seconds * rate)], rate)]
    for checkpoint_id in args.id:
        gen = asmr_zoo.load(checkpoint_id)
        clip = gen.generate(args.trigger, seconds=args.seconds, seed=args.seed)[0]
        panels.append((f"generated: {checkpoint_id} (seed {args.seed})", clip, gen.sample_rate))
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.2 * len(panels)), sharex=True)
    for ax, (title, wav, wav_rate) in zip(axes, panels, strict=True):
        wav = resample(wav[None], wav_rate, 16000)[0]
        spec = log_spectrogram(wav)
        ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=spec.max() - 80,
            vmax=spec.max(),
            extent=(0, len(wav) / 16000, 0, 8),
        )
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"{args.trigger}: real vs generated", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
