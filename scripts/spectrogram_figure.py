"""The README's picture: spectrograms of a real held-out clip and of generated clips of one trigger.

    python scripts/spectrogram_figure.py --data runs/shipped/held-out --trigger tapping_glass \
        --id wavenet-global --id wavenet-global-envelope --id wavernn-gate-bias \
        --out docs/images/spectrogram-tapping-glass.png

Each generated clip is what `asmr-zoo run --id ID -t TRIGGER --seconds S --seed N` writes (the same path and
seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import asmr_zoo
from asmr_zoo.audio import read_audio, resample, to_mono
from asmr_zoo.dataset import read_dataset
from asmr_zoo.generation_metrics import log_spectrogram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a data set; its first held-out clip is shown")
    parser.add_argument("--trigger", default="tapping_glass")
    parser.add_argument("--id", action="append", required=True, help="checkpoint ids (repeatable)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from matplotlib.figure import Figure

    row = next(r for r in read_dataset(args.data) if r.split == "test" and r.trigger == args.trigger)
    audio, rate = read_audio(row.path)
    panels = [(f"real held-out clip ({row.video_id})", to_mono(audio)[0, : int(args.seconds * rate)], rate)]
    for checkpoint_id in args.id:
        gen = asmr_zoo.load(checkpoint_id)
        clip = gen.generate(args.trigger, seconds=args.seconds, seed=args.seed)[0]
        panels.append((f"generated: {checkpoint_id} (seed {args.seed})", clip, gen.sample_rate))
    fig = Figure(figsize=(9, 2.2 * len(panels)))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
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
