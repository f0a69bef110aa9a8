"""Training throughput: samples/s and s/step of each engine against the naive per-timestep loop, same run.

    python benchmarks/bench_training.py [--quick] [--threads N] [--sizes demo,paper] [--repeats R]
    python benchmarks/bench_training.py --same-result 300    # C vs torch recurrence: same held-out bits?

A training step is forward, loss, backward and an Adam update on a batch of random codes (batch 8 x window
1000 by default, the paper's truncated-BPTT window). Engines, WaveRNN:
- naive: a per-timestep ``torch.gru_cell`` Python loop (input projection inside the cell, as most public
  WaveRNN code trains); for ``concat``, whose per-clip R_b b bias a GRU cell cannot take, the loop over
  the project's cell;
- torch: the model's ``train_engine=torch`` path (``nn.GRU``; the cell loop for concat);
- native: ``train_engine=native``, the C recurrence (``asmr_zoo_wavernn/recurrence.py``).
WaveNet: the ``small`` and ``paper`` presets with and without activation checkpointing (``--wavenet paper
--wavenet-window 32000 --batch 1 --engines checkpointed --quick``: the paper preset at its own window).
``--same-result STEPS`` trains the demo WaveRNN (concat) for STEPS steps with each recurrence through
``asmr-zoo train`` on a small procedural corpus, with the same seed, and prints both runs' held-out
bits/sample and time: the fast path must reach the reference's result, not only run faster.
Each measurement runs in its own subprocess (so peak RSS is that engine's own), interleaved over engines
and repeated; the table shows min / median / max samples/s, the ratio of medians against the reference
measured in the same run, and the largest peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

TRIGGERS = ["tapping_glass", "brushing_mic", "whispering"]
SIZES = {"demo": {"hidden": 128, "cond_dim": 16}, "paper": {"hidden": 896, "cond_dim": 32}}


def naive_forward(model, codes: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    """WaveRNN's teacher-forced pass as a per-timestep GRU-cell loop (the reference)."""
    from asmr_zoo_wavernn.model import _cell

    batch, steps, _ = codes.shape
    silence = torch.tensor(model.codec.silence).expand(batch, 1, 2)
    x = model._scale(torch.cat([torch.cat([silence, codes[:, :-1]], dim=1), codes[..., :1]], dim=-1))
    feats, gh_bias = model._conditioning(cond, batch)
    if feats is not None:
        x = torch.cat([x, feats[:, None].expand(batch, steps, -1)], dim=-1)
    gru, weight_ih = model.gru, model._masked_input_weight()
    h, states = x.new_zeros(batch, model.config.hidden), []
    for x_t in x.unbind(1):
        if model.concat:
            h = _cell(F.linear(x_t, weight_ih, gru.bias_ih_l0), torch.addmm(gh_bias, h, gru.weight_hh_l0.t()), h)
        else:
            h = torch.gru_cell(x_t, h, weight_ih, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
        states.append(h)
    return model._heads(torch.stack(states, dim=1))


def worker(spec: dict) -> dict:
    """Time ``spec['steps']`` training steps after one warm-up step (0: time a single cold step); return
    samples/s, s/step, peak RSS."""
    from asmr_zoo.factory import build_model

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    batch, window = spec["batch"], spec["window"]
    if spec["model"] == "wavernn":
        engine = spec["engine"]
        config = {**SIZES[spec["size"]], "window": window, "train_engine": "torch" if engine == "naive" else engine}
        vocabulary = TRIGGERS if spec["conditioner"] != "none" else []
        model = build_model("wavernn", spec["conditioner"], vocabulary, config)
        codes = torch.randint(0, 256, (batch, window, 2))
        forward = (lambda c, k: naive_forward(model, c, k)) if engine == "naive" else model
    else:
        config = {"window": window, "checkpoint_activations": spec["engine"] == "checkpointed"}
        model = build_model("wavenet", "global", TRIGGERS, config, preset=spec["size"])
        codes = torch.randint(0, 256, (batch, window, 1))
        forward = model
    cond = torch.randint(0, len(TRIGGERS), (batch,)) if model.conditioner.conditioned else None
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model.loss_from_logits(forward(codes, cond), codes).backward()
        optimizer.step()

    if spec["steps"]:
        step()  # warm-up, not timed
    start = time.perf_counter()
    for _ in range(max(1, spec["steps"])):
        step()
    per_step = (time.perf_counter() - start) / max(1, spec["steps"])
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"samples_per_s": batch * window / per_step, "s_per_step": per_step, "rss_mib": rss_mib}


def measure(spec: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(label: str, specs: dict[str, dict], repeats: int, reference: str) -> None:
    """Measure every engine ``repeats`` times, interleaved, and print one line per engine."""
    runs: dict[str, list[dict]] = {name: [] for name in specs}
    for _ in range(repeats):
        for name, spec in specs.items():
            runs[name].append(measure(spec))
    ref = [r["samples_per_s"] for r in runs.get(reference, []) if "samples_per_s" in r]
    for name, results in runs.items():
        good = [r for r in results if "samples_per_s" in r]
        if not good:
            print(f"{label:<30}{name:<13}error: {results[0]['error']}", flush=True)
            continue
        rates = sorted(r["samples_per_s"] for r in good)
        ratio = statistics.median(rates) / statistics.median(ref) if ref else float("nan")
        steps = statistics.median(r["s_per_step"] for r in good)
        rss = max(r["rss_mib"] for r in good)
        print(
            f"{label:<30}{name:<13}{rates[0]:>9,.0f}{statistics.median(rates):>9,.0f}{rates[-1]:>9,.0f}"
            f"{ratio:>8.2f}x{steps:>9.2f}{rss:>9,.0f}",
            flush=True,
        )


def same_result(steps: int, threads: int) -> None:
    """Train the demo concat WaveRNN with each recurrence, same seed and data; print held-out bits/sample."""
    from asmr_zoo.checkpoints import read_metadata

    zoo = [sys.executable, "-m", "asmr_zoo"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        synth = ["data", "synth", "--out", str(data), "--triggers", ",".join(TRIGGERS), "--minutes", "1"]
        subprocess.run([*zoo, *synth, "--clip-seconds", "7.5", "--seed", "0"], check=True, capture_output=True)
        print(f"demo wavernn concat, {steps} steps (batch 16), {', '.join(TRIGGERS)}, {threads} thread(s)")
        print(f"{'engine':<10}{'held-out bits/sample':>22}{'unigram':>10}{'train s':>10}")
        for engine in ("torch", "native"):
            out = Path(tmp) / f"{engine}.safetensors"
            settings = [f"train.steps={steps}", "train.batch_size=16", f"train.eval_every={steps}", "train.seed=0"]
            settings += [f"train.threads={threads}", f"model.train_engine={engine}", "train.keep_best=false"]
            train = ["train", "wavernn", "-c", "concat", "--data", str(data), "--preset", "demo", "--out", str(out)]
            start = time.perf_counter()
            subprocess.run([*zoo, *train, *settings], check=True, capture_output=True)
            seconds = time.perf_counter() - start
            metrics = json.loads(read_metadata(out)["extra.metrics"])
            bits, unigram = metrics["test_bits_per_sample"], metrics["unigram_bits_per_sample"]
            print(f"{engine:<10}{bits:>22.4f}{unigram:>10.4f}{seconds:>10.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="one cold step per measurement, one repeat")
    parser.add_argument("--engines", default="", help="only these engines, e.g. native,naive or checkpointed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each worker (default 1)")
    parser.add_argument("--sizes", default="demo,paper", help="WaveRNN sizes to run (demo, paper)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per engine (interleaved)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--wavenet", default="small", help="WaveNet presets to run ('' for none)")
    parser.add_argument("--wavenet-window", type=int, default=4000)
    parser.add_argument("--same-result", type=int, default=0, metavar="STEPS", help="train with each recurrence")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.same_result:
        same_result(args.same_result, args.threads)
        return
    repeats, steps = (1, 0) if args.quick else (args.repeats, 2)
    keep = set(filter(None, args.engines.split(",")))
    print(f"torch {torch.__version__}, {args.threads} thread(s) per worker, batch {args.batch}")
    print(f"{'config':<30}{'engine':<13}{'min':>9}{'median':>9}{'max':>9}{'ratio':>9}{'s/step':>9}{'RSS MiB':>9}")
    base = {"threads": args.threads, "batch": args.batch, "steps": steps}
    for size in filter(None, args.sizes.split(",")):
        for conditioner in ("none", "gate-bias", "concat"):
            spec = {**base, "model": "wavernn", "size": size, "conditioner": conditioner, "window": args.window}
            engines = {e: {**spec, "engine": e} for e in ("naive", "torch", "native") if not keep or e in keep}
            row(f"wavernn {size} {conditioner} x{args.window}", engines, repeats, "naive")
    for preset in filter(None, args.wavenet.split(",")):
        spec = {**base, "model": "wavenet", "size": preset, "window": args.wavenet_window}
        engines = {e: {**spec, "engine": e} for e in ("plain", "checkpointed") if not keep or e in keep}
        row(f"wavenet {preset} x{args.wavenet_window}", engines, repeats, "plain")


if __name__ == "__main__":
    main()
