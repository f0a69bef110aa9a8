"""What trigger guidance of the band prior costs in generation: seconds per second of audio with the checkpoint's
guidance against none, interleaved and repeated (min / median / max), through `asmr-zoo run`'s path.

    python benchmarks/bench_guidance.py            # the three defaults of `run MODEL -c COND`, 2 s, batch 1
    python benchmarks/bench_guidance.py --seconds 1 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from asmr_zoo.checkpoints import load_checkpoint
from asmr_zoo.sampling import AncestralSampler

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
DEFAULTS = ("wavenet-global-bands-ss", "wavernn-concat-bands-ss", "wavernn-gate-bias-bands-long")


def seconds_per_second(model, scale: float, seconds: float, batch: int, seed: int) -> float:
    """Wall seconds to generate one second of audio per clip at guidance ``scale``."""
    model.use_guidance(scale)
    cond = model.conditioner.encode(["tapping_wood"] * batch)
    start = time.perf_counter()
    AncestralSampler(seed=seed, batch=batch).generate(model, round(seconds * model.sample_rate), cond)
    return (time.perf_counter() - start) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="audio per measurement")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="measurements per setting (interleaved)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"seconds per second of audio, batch {args.batch}, {args.seconds:g} s, one thread (min / median / max)")
    print(f"{'checkpoint':<30} {'guidance':>8} {'off':>20} {'on':>20} {'on/off (median)':>16}")
    for name in DEFAULTS:
        model = load_checkpoint(CHECKPOINTS / f"{name}.safetensors").eval()
        scale = model.config.envelope_guidance
        if not scale:
            print(f"{name:<30} {'0':>8} (no guidance to measure)")
            continue
        times: dict[float, list[float]] = {0.0: [], scale: []}
        seconds_per_second(model, scale, 0.1, args.batch, 0)  # warm: the C loop's build and first call
        for repeat in range(args.repeats):
            for s in (0.0, scale):
                times[s].append(seconds_per_second(model, s, args.seconds, args.batch, repeat))
        off, on = (sorted(times[s]) for s in (0.0, scale))
        row = [f"{min(t):.3f}/{statistics.median(t):.3f}/{max(t):.3f}" for t in (off, on)]
        ratio = statistics.median(on) / statistics.median(off)
        print(f"{name:<30} {scale:>8g} {row[0]:>20} {row[1]:>20} {ratio:>16.2f}")


if __name__ == "__main__":
    main()
