"""Reproduce the shipped checkpoints: synthetic corpus -> `asmr-zoo train` -> `asmr-zoo eval` -> registry.yaml.

    python scripts/make_checkpoints.py            # everything (about an hour on 2 cores)
    python scripts/make_checkpoints.py --only wavenet-global

Each model is trained by the project's own CLI on the procedural, license-free corpus (`asmr-zoo data synth`),
per trigger for the unconditioned models and one model for all the common triggers for the conditioned ones.
Held-out bits/sample (and for conditioned models the own-vs-swapped-label check) come from `asmr-zoo eval` and
go into registry.yaml with each file's sha256 and size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

from asmr_zoo.triggers import COMMON_TRIGGERS

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "runs" / "shipped"
TRIGGERS = list(COMMON_TRIGGERS)
SEED = 0
MINUTES = 1.5  # per trigger
CLIP_SECONDS = 7.5  # 12 synthetic "videos" per trigger: the split by video leaves several for training
# (model, conditioner) -> (preset, training overrides)
RECIPES: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("wavernn", "none"): ("demo", ["train.steps=150", "train.batch_size=16", "train.eval_every=50"]),
    ("wavernn", "gate-bias"): ("demo", ["train.steps=2400", "train.batch_size=16", "train.eval_every=200"]),
    ("wavernn", "concat"): ("demo", ["train.steps=2400", "train.batch_size=16", "train.eval_every=200"]),
    ("wavenet", "none"): ("demo", ["train.steps=150", "train.batch_size=8", "train.eval_every=50"]),
    ("wavenet", "global"): ("demo", ["train.steps=1200", "train.batch_size=8", "train.eval_every=200"]),
}
# One thread each, so that two recipes (e.g. --only wavernn and --only wavenet) can run side by side. The
# checkpoint keeps the weights with the best held-out NLL (train.keep_best), so a short run cannot overfit.
COMMON = ["train.lr=3e-3", "train.checkpoint_every=50", "train.eval_windows=8", "train.threads=1", f"train.seed={SEED}"]


def zoo(*args: str) -> subprocess.CompletedProcess:
    print("+ asmr-zoo", " ".join(args), flush=True)
    result = subprocess.run([sys.executable, "-m", "asmr_zoo", *args], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f"failed: asmr-zoo {' '.join(args)}\n{result.stderr}")
    return result


def make_data() -> Path:
    data = WORK / "data"
    if not (data / "manifest.jsonl").exists():
        zoo(
            "data",
            "synth",
            "--out",
            str(data),
            "--triggers",
            ",".join(TRIGGERS),
            "--minutes",
            str(MINUTES),
            "--clip-seconds",
            str(CLIP_SECONDS),
            "--seed",
            str(SEED),
        )
    return data


def train_one(model: str, conditioner: str, triggers: list[str], data: Path) -> dict:
    preset, overrides = RECIPES[(model, conditioner)]
    name = f"{model}-{conditioner}" + ("" if conditioner != "none" else f"-{triggers[0].replace('_', '-')}")
    out = WORK / f"{name}.safetensors"
    trig = [arg for t in triggers for arg in ("--trigger", t)]
    # --resume: a rerun continues (or, when finished, only re-evaluates) instead of starting again.
    zoo(
        "train",
        model,
        "--conditioner",
        conditioner,
        "--data",
        str(data),
        *trig,
        "--preset",
        preset,
        "--out",
        str(out),
        "--resume",
        *overrides,
        *COMMON,
    )
    report = json.loads(zoo("eval", str(out), "--data", str(data), "--json", "--seconds", "1").stdout)
    return {"name": name, "path": out, "report": report, "preset": preset, "overrides": overrides}


def registry_entry(model: str, conditioner: str, triggers: list[str], made: dict) -> dict:
    from asmr_zoo.registry import entry_from_checkpoint

    target = REPO / "checkpoints" / f"{made['name']}.safetensors"
    target.write_bytes(made["path"].read_bytes())
    report = made["report"]
    metrics = {
        "test_bits_per_sample": round(report["mean_bits"], 4),
        "test_bits_per_trigger": {t: round(r["bits"], 4) for t, r in report["triggers"].items()},
        "unigram_bits_per_sample": {t: round(r["unigram_bits"], 4) for t, r in report["triggers"].items()},
        "uniform_bits_per_sample": report["uniform_bits"],
    }
    if "own_label_wins" in report:
        metrics["own_label_wins"] = f"{report['own_label_wins']}/{len(report['triggers'])}"
    return entry_from_checkpoint(
        target,
        REPO,
        made["name"],
        triggers,
        data={
            "source": "synthetic",
            "command": f"asmr-zoo data synth --minutes {MINUTES} --clip-seconds {CLIP_SECONDS} --seed {SEED}",
            "split": "by video (held-out synthetic 'videos')",
        },
        training={"preset": made["preset"], "overrides": made["overrides"] + COMMON},
        metrics=metrics,
        license="CC0-1.0",
        default=True,
        description=f"demo {model} ({conditioner}) trained on the procedural corpus by scripts/make_checkpoints.py",
    )


def update_registry(path: Path, entry: dict) -> None:
    """Add or replace ``entry`` in registry.yaml, under a lock (recipes may run in parallel)."""
    import fcntl

    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = yaml.safe_load(path.read_text()) or {}
        entries = {e["id"]: e for e in doc.get("entries") or []}
        entries[entry["id"]] = entry
        path.write_text(yaml.safe_dump({"schema_version": 1, "entries": list(entries.values())}, sort_keys=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="recipes whose name starts with this, e.g. wavenet or wavernn-concat")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    data = make_data()
    for model, conditioner in RECIPES:
        if args.only and not f"{model}-{conditioner}".startswith(args.only):
            continue
        groups = [[t] for t in TRIGGERS] if conditioner == "none" else [TRIGGERS]
        for triggers in groups:
            made = train_one(model, conditioner, triggers, data)
            entry = registry_entry(model, conditioner, triggers, made)
            update_registry(REPO / "registry.yaml", entry)
            print(f"  {entry['id']}: {entry['metrics']['test_bits_per_sample']} bits/sample", flush=True)


if __name__ == "__main__":
    main()
