"""WaveNet generation speed: naive (recompute the receptive field) against cached (fast WaveNet queues).

    python benchmarks/bench_wavenet.py [--quick] [--threads N]

Prints this machine's memory bandwidth and matmul GFLOP/s, then samples/second for the `demo`, `small` and
`paper` presets at batch 1 and 32 (demo: 1 and 8), measured in the same run:
- naive: ``generate_naive`` in steady state (primed with a full receptive field of codes); not run where a
  step takes minutes (the paper preset at batch 32: the recompute does not get cheaper per clip with batch);
- step loop: ``model.step`` + ``pick_with_policy``, what the core's generic sampler loop runs;
- torch: ``model.generate_fast`` with ``fast_engine=torch``, the cached loop in torch;
- native: the C loop that ``model.generate_fast`` runs with ``fast_engine=native`` (``auto`` uses it up to
  batch 8), in steady state: its weights are packed once before timing (0.55 s for the paper preset, once
  per generation), as the torch loop's state is made once;
- int8: the same C loop with ``fast_weights=int8`` (a scale per column; timed interleaved with native);
- x RT: the faster fp32 fused loop against real time at 16 kHz, per clip (int8 RT: the int8 C loop's);
- bound: at batch 1 every step reads all weights, so bandwidth / weight bytes; at batch 32 the lower of
  that times 32 and matmul FLOP/s / (2 FLOPs per parameter per sample).
Then one clip (batch 1) of each preset on one thread against two (the C loop's halves,
``wavenet_run_pair``, used from ``PAIR_MIN_WEIGHTS`` weights up), fp32 and int8, each timed 5 times
interleaved: min / median / max samples/s, x real time at 16 kHz and the two-thread / one-thread ratio of
the medians. Two threads need two free cores.
The full run adds a bf16 copy of the `paper` preset (half the weight bytes). Caveats: this VM reports a
300 MiB L3, so the `paper` fp32 weights (292 MB) nearly fit in cache and bf16 ones do, and a step can beat
the DRAM bound; on a machine shared with other jobs the numbers are noisy (the load average is printed),
and OpenMP threads crawl when the cores are oversubscribed: compare with ``--threads 1``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch

from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.sampling import pick_with_policy
from asmr_zoo_wavenet import native
from asmr_zoo_wavenet.model import WaveNet, generate_naive
from asmr_zoo_wavenet.native import NativeRun

TRIGGERS = ["tapping_glass", "whispering"]


def seconds(fn: Callable[[], object], budget: float) -> float:
    """The best time of ``fn`` over the calls that fit in ``budget`` seconds; the first call only warms up,
    unless it is the only one (a single slow call longer than the budget)."""
    times: list[float] = []
    start = time.perf_counter()
    while not times or time.perf_counter() - start < budget:
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
    return min(times[1:] or times)


def probe() -> dict[str, float]:
    """Memory bandwidth (a streaming read, and a stream of matrix-vector products) and matmul GFLOP/s."""
    big = torch.randn(256 << 20)  # 1 GiB: beyond the caches (this VM reports a 300 MiB L3)
    read = big.numel() * 4 / seconds(big.sum, 2.0) / 1e9
    mats = [torch.randn(1024, 1024) for _ in range(256)]  # 4 MiB each, 1 GiB in all
    vec = torch.randn(1, 1024)
    gemv = len(mats) * 4 * 2**20 / seconds(lambda: [vec @ m for m in mats], 2.0) / 1e9
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a16, b16 = a.bfloat16(), b.bfloat16()
    fp32 = 2 * 2048**3 / seconds(lambda: a @ b, 1.0) / 1e9
    bf16 = 2 * 2048**3 / seconds(lambda: a16 @ b16, 1.0) / 1e9
    return {"read": read, "gemv": gemv, "bandwidth": max(read, gemv), "fp32": fp32, "bf16": bf16}


def measure(model: WaveNet, batch: int, steps: dict[str, int], budget: float) -> dict[str, float]:
    """Samples per second (all clips together) of each generator, ``steps[name]`` steps per timed call."""
    cond = torch.arange(batch) % len(TRIGGERS)
    rf, silence = model.receptive_field, model.codec.silence[0]
    result = {}
    with torch.inference_mode():
        if steps["naive"]:
            prompt = torch.randint(0, 256, (batch, rf, 1))  # steady state: a full receptive field of history
            naive = seconds(lambda: generate_naive(model, steps["naive"], cond, prompt=prompt), budget)
            result["naive"] = batch * steps["naive"] / naive
        state = model.init_state(batch, cond)
        policy = SamplingPolicy(generator=torch.Generator().manual_seed(0))
        n = steps["cached"]

        def step_loop() -> None:
            prev = torch.full((batch, 1), silence)
            for _ in range(n):
                prev, _, _ = model.step(prev, state, lambda logits, head: pick_with_policy(logits, policy))

        result["step"] = batch * n / seconds(step_loop, budget)
        model.config.fast_engine = "torch"
        result["torch"] = batch * n / seconds(lambda: model.generate_fast(n, state, policy), budget)
        if next(model.parameters()).dtype == torch.float32:  # set up once, as the torch loop's state is
            codes, runs = torch.full((batch,), silence), {}
            for weights in ("fp32", "int8"):
                model.config.fast_weights = weights
                runs[weights] = NativeRun(model, model.init_state(batch, cond))
            model.config.fast_weights = "fp32"
            best = {"fp32": 0.0, "int8": 0.0}
            for _ in range(3):  # interleaved: a busy spell slows both alike
                for weights, run in runs.items():
                    rate = batch * n / seconds(lambda run=run: run.run(codes, n, policy), budget / 3)
                    best[weights] = max(best[weights], rate)
            result["native"], result["int8"] = best["fp32"], best["int8"]
    return result


def one_clip_on_two_threads(repeats: int, steps: int) -> None:
    """The table of one clip on one and two threads (module docstring); every preset is split here, whatever
    ``PAIR_MIN_WEIGHTS`` says, to show what the split costs or gains."""
    print("\none clip on 1 and 2 threads of the C loop, samples/second (min / median / max of the interleaved runs)")
    header = f"{'preset':<7}{'weights':<8}{'1 thread':>27}{'2 threads':>27}{'x RT 1':>9}{'x RT 2':>9}{'2/1':>6}"
    print(header)
    print("-" * len(header))
    policy = SamplingPolicy(generator=torch.Generator().manual_seed(0))
    least, native.PAIR_MIN_WEIGHTS = native.PAIR_MIN_WEIGHTS, 0
    try:
        for preset, n in (("demo", steps), ("small", steps), ("paper", max(20, steps // 200))):
            model = build_model("wavenet", "global", TRIGGERS, preset=preset).eval()
            runs = {}
            for weights in ("fp32", "int8"):
                model.config.fast_weights = weights
                for threads in (1, 2):
                    runs[weights, threads] = NativeRun(model, model.init_state(1, torch.tensor([0])), threads)
            rates: dict[tuple[str, int], list[float]] = {key: [] for key in runs}
            codes = torch.full((1,), model.codec.silence[0])
            with torch.inference_mode():
                for run in runs.values():
                    run.run(codes, max(1, n // 4), policy)  # warm up
                for _ in range(repeats):
                    for key, run in runs.items():
                        begin = time.perf_counter()
                        run.run(codes, n, policy)
                        rates[key].append(n / (time.perf_counter() - begin))
            for weights in ("fp32", "int8"):
                one, two = (sorted(rates[weights, t]) for t in (1, 2))
                mid = [r[len(r) // 2] for r in (one, two)]
                cells = [" / ".join(f"{v:,.0f}" if v >= 100 else f"{v:.1f}" for v in (r[0], mid[k], r[-1]))
                         for k, r in enumerate((one, two))]  # fmt: skip
                print(
                    f"{preset:<7}{weights:<8}{cells[0]:>27}{cells[1]:>27}{mid[0] / 16000:>8.3g}x"
                    f"{mid[1] / 16000:>8.3g}x{mid[1] / mid[0]:>6.2f}",
                    flush=True,
                )
    finally:
        native.PAIR_MIN_WEIGHTS = least


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, no naive run of the paper preset")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs, "
        f"load average {load:.1f} (on a shared machine other jobs make the numbers noisy)"
    )
    hw = probe()
    print(
        f"memory bandwidth: streaming read {hw['read']:.1f} GB/s, "
        f"matrix-vector stream {hw['gemv']:.1f} GB/s; "
        f"matmul {hw['fp32']:.0f} GFLOP/s fp32, {hw['bf16']:.0f} GFLOP/s bf16\n"
    )
    q = args.quick
    budget = 1.0 if q else 3.0  # seconds per measurement (a naive step of the paper preset takes longer)
    runs = [  # preset, dtype, batch, steps per timed call
        ("demo", torch.float32, 1, {"naive": 8, "cached": 2000}),
        ("demo", torch.float32, 8, {"naive": 2, "cached": 1000}),
        ("small", torch.float32, 1, {"naive": 4, "cached": 1000}),
        ("small", torch.float32, 32, {"naive": 1, "cached": 100}),
        ("paper", torch.float32, 1, {"naive": 0 if q else 1, "cached": 5}),
        ("paper", torch.float32, 32, {"naive": 0, "cached": 3}),
    ]
    if not q:
        runs += [
            ("paper", torch.bfloat16, 1, {"naive": 0, "cached": 5}),
            ("paper", torch.bfloat16, 32, {"naive": 0, "cached": 3}),
        ]
    header = (
        f"{'preset':<7}{'dtype':<6}{'params':>8}{'batch':>6}{'naive':>10}{'step loop':>11}{'torch':>10}"
        f"{'native':>10}{'int8':>10}{'best/naive':>12}{'x RT':>7}{'int8 RT':>8}{'bound':>9}{'best/bound':>12}"
    )
    print("samples/second (all clips together)")
    print(header)
    print("-" * len(header))
    for preset, dtype, batch, steps in runs:
        model = build_model("wavenet", "global", TRIGGERS, preset=preset).eval().to(dtype)
        params = sum(p.numel() for p in model.parameters())
        r = measure(model, batch, steps, budget)
        best, naive = max(r["torch"], r.get("native", 0.0)), r.get("naive")
        bound = min(
            hw["bandwidth"] * 1e9 / (params * dtype.itemsize) * batch,
            hw["fp32" if dtype == torch.float32 else "bf16"] * 1e9 / (2 * params),
        )
        dname = "fp32" if dtype == torch.float32 else "bf16"
        ratio = f"{best / naive:.0f}x" if naive else "-"
        naive_text = f"{naive:.{1 if naive >= 10 else 2}f}" if naive else "-"
        native = f"{r['native']:.1f}" if "native" in r else "-"
        int8 = f"{r['int8']:.1f}" if "int8" in r else "-"
        int8_rt = f"{r['int8'] / batch / 16000:.2f}x" if "int8" in r else "-"
        print(
            f"{preset:<7}{dname:<6}{params / 1e6:>7.1f}M{batch:>6}{naive_text:>10}{r['step']:>11.1f}"
            f"{r['torch']:>10.1f}{native:>10}{int8:>10}{ratio:>12}{best / batch / 16000:>6.2f}x{int8_rt:>8}"
            f"{bound:>9.1f}{best / bound:>11.0%}",
            flush=True,
        )
    one_clip_on_two_threads(5, 8000 if q else 32000)


if __name__ == "__main__":
    main()
