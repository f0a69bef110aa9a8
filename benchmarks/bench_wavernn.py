"""WaveRNN generation speed: a naive eager sampler against the project's samplers, in the same run.

The naive sampler is the obvious per-sample PyTorch loop (``model.step`` + ``pick_with_policy`` on fp32
weights, as most public WaveRNN code does it). The project's sampler is ``model.generate_fast`` with
``fast_weights`` weights, on each engine: the C loop (``native``, the default), the TorchScript loop, and the
C loop with its plain-C int8 kernel instead of the machine's SIMD one (``portable``).
All draw with temperature 1 from an untrained model, so the numbers measure the loop, not the audio.
Usage: ``python benchmarks/bench_wavernn.py [--quick] [--weights int8|fp32|bf16] [--threads N]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.sampling import pick_with_policy
from asmr_zoo_wavernn import native

SAMPLE_RATE = 22050


def naive(model, batch: int, samples: int, policy: SamplingPolicy) -> None:
    state = model.init_state(batch)
    prev = torch.tensor(model.codec.silence).expand(batch, 2)
    for _ in range(samples):
        prev, _, state = model.step(prev, state, lambda logits, head: pick_with_policy(logits, policy))


def fused(model, batch: int, samples: int, policy: SamplingPolicy) -> None:
    model.generate_fast(samples, model.init_state(batch), policy)


def portable(model, batch: int, samples: int, policy: SamplingPolicy) -> None:
    """The C loop built with its plain-C int8 kernel (``-DASMR_ZOO_GENERIC``): what the SIMD kernel buys."""
    if id(model) not in PORTABLE_CELLS:  # packed once, outside the timed runs (as fused_cell caches its cell)
        PORTABLE_CELLS[id(model)] = native.NativeCell(model, model.config.fast_weights, extra_flags=GENERIC)
    native.run_native(PORTABLE_CELLS[id(model)], samples, model.init_state(batch), policy)


GENERIC = ("-DASMR_ZOO_GENERIC",)
PORTABLE_CELLS: dict[int, native.NativeCell] = {}


KERNELS = {0: "plain C", 1: "AVX-512 VNNI", 2: "AVX2"}


def rate(run, model, batch: int, samples: int, repeats: int) -> float:
    """Best-of-``repeats`` samples per second (the machine may be shared)."""
    policy = SamplingPolicy(generator=torch.Generator().manual_seed(0))
    run(model, batch, min(samples, 50), policy)  # warm-up (and compile)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(model, batch, samples, policy)
        best = min(best, time.perf_counter() - start)
    return batch * samples / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples per measurement")
    parser.add_argument("--weights", default="int8", choices=["fp32", "bf16", "int8"], help="fused-loop weights")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps_single, steps_folded, repeats = (1500, 60, 1) if args.quick else (6000, 300, 3)
    engines = ("torchscript",) if args.weights == "bf16" else ("native", "torchscript", "portable")
    kernel = KERNELS[native.NativeCell(build_model("wavernn", "none", [], {"hidden": 64}), "int8").lib.wavernn_simd()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fused weights: {args.weights}")
    print(f"the C loop's int8 kernel on this machine: {kernel}; portable: the same loop with the plain-C kernel")
    print("samples/s; ratio = the engine against naive; x RT = the engine against real time at 22,050 Hz")
    header = "".join(f"{e:>13}{'ratio':>8}{'x RT':>7}" for e in engines)
    print(f"{'config':<26}{'naive':>9}{header}")
    for hidden in (896, 512, 128):
        for batch, steps in ((1, steps_single), (128, steps_folded)):
            label = f"hidden {hidden}, " + ("batch 1" if batch == 1 else f"folded batch {batch}")
            line = f"{label:<26}"
            slow = None
            for engine in engines:
                torch.manual_seed(0)
                config = {"hidden": hidden, "fast_weights": args.weights, "fast_engine": engine}
                model = build_model(
                    "wavernn", "none", [], {**config, "fast_engine": "native"} if engine == "portable" else config
                ).eval()
                with torch.inference_mode():
                    if slow is None:
                        slow = rate(naive, model, batch, max(steps // 4, 50), repeats)
                        line += f"{slow:>9,.0f}"
                    if engine == "portable":  # about as slow as naive: as few samples
                        fast = rate(portable, model, batch, max(steps // 4, 50), repeats)
                    else:
                        fast = rate(fused, model, batch, steps, repeats)
                line += f"{fast:>13,.0f}{fast / slow:>7.1f}x{fast / SAMPLE_RATE:>6.2f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
