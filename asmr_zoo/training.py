"""Training: configs (dataclass schema <- YAML <- key=value), windows from a data set, a resumable loop.

The loop is deterministic given the seed: the windows of step ``s`` on rank ``r`` are drawn from a generator
seeded with (seed, s, r), so a resumed run continues exactly where the killed one stopped, needing only the
weights, the optimizer state and the step, all kept in one safetensors resume file (never a pickle). Under
``torchrun`` (WORLD_SIZE > 1) the same code runs with DistributedDataParallel (gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asmr_zoo.checkpoints import atomic_write, save_checkpoint
from asmr_zoo.errors import CheckpointError, DataError, UsageError
from asmr_zoo.factory import check_model_config
from asmr_zoo.interfaces import Model, ModelConfig
from asmr_zoo.validation import check_choice, check_seed, load_json

MAX_LR = 1.0
PARTS = ("all", "prior")  # what train.parts may name


@dataclass
class TrainConfig:
    """The optimisation settings (the ``train.*`` keys)."""

    steps: int = 2000
    batch_size: int = 8
    lr: float = 2e-3
    lr_min: float = 1e-4  # cosine decay to this
    warmup: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    window: int = 0  # samples per training window; 0: the model's config.window
    eval_every: int = 250
    checkpoint_every: int = 250
    eval_windows: int = 16  # held-out windows per trigger
    keep_best: bool = True  # the checkpoint holds the step with the best held-out NLL (the resume file, the latest)
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0: torch's default
    parts: str = "all"  # "prior": train only an envelope model's loudness prior (the rest is left as it is)

    def validate(self) -> None:
        """Refuse values that would train nothing, divide by zero or diverge, with the key to fix."""
        for key in ("steps", "batch_size", "eval_every", "checkpoint_every", "eval_windows"):
            if getattr(self, key) < 1:
                raise UsageError(f"train.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("warmup", "window", "threads", "seed"):
            if getattr(self, key) < 0:
                raise UsageError(f"train.{key} must be >= 0, got {getattr(self, key)}")
        for key in ("lr", "lr_min", "weight_decay", "grad_clip"):
            value = getattr(self, key)
            if not math.isfinite(value) or value < 0 or (key == "lr" and value == 0):
                raise UsageError(f"train.{key} must be a finite number {'> 0' if key == 'lr' else '>= 0'}, got {value}")
        for key in ("lr", "lr_min"):
            if getattr(self, key) > MAX_LR:  # Adam's steps are about lr in size: beyond this, weights only diverge
                raise UsageError(f"train.{key} must be a finite number > 0 and <= {MAX_LR:g}, got {getattr(self, key)}")
        check_seed(self.seed, "train.seed")
        check_choice("train.parts", self.parts, PARTS)


# -- configs ---------------------------------------------------------------------------------------


def _check_keys(values: Mapping[str, Any], schema: Mapping[str, type], where: str) -> None:
    """Reject unknown keys with a "did you mean" hint (omegaconf's own message has none)."""
    for section, sub in values.items():
        if section not in schema:
            hint = difflib.get_close_matches(str(section), list(schema), n=1)
            raise UsageError(
                f"unknown config key '{section}' in {where}"
                + (f" (did you mean '{hint[0]}'?)" if hint else f"; top-level keys are: {', '.join(schema)}")
            )
        if not isinstance(sub, Mapping):
            raise UsageError(f"config key '{section}' in {where} must be a mapping of fields")
        fields = [f.name for f in dataclasses.fields(schema[section])]
        for key in sub:
            if key not in fields:
                hint = difflib.get_close_matches(str(key), fields, n=1)
                raise UsageError(
                    f"unknown config key '{section}.{key}' in {where}"
                    + (f" (did you mean '{section}.{hint[0]}'?)" if hint else f"; fields are: {', '.join(fields)}")
                )


def resolve_training_config(
    model_cls: type[Model],
    preset: str | None = None,
    config_file: Path | None = None,
    overrides: Sequence[str] = (),
) -> tuple[ModelConfig, TrainConfig, set[str]]:
    """Model and train configs: dataclass defaults <- preset <- YAML file <- ``key=value`` overrides.

    Also returns the model fields the user set explicitly (file or overrides)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    schema = {"model": model_cls.Config, "train": TrainConfig}
    layers: list[tuple[dict[str, Any], str]] = []
    if preset:
        if preset not in model_cls.presets:
            raise UsageError(
                f"unknown preset '{preset}' for {model_cls.name}; available: {', '.join(model_cls.presets)}"
            )
        layers.append(({"model": dict(model_cls.presets[preset])}, f"preset '{preset}'"))
    if config_file is not None:
        if not Path(config_file).is_file():
            raise UsageError(f"config file {config_file} does not exist")
        try:
            loaded = OmegaConf.to_container(OmegaConf.load(config_file))
        except Exception as exc:
            raise UsageError(f"config file {config_file} is not valid YAML: {str(exc).splitlines()[0]}") from exc
        if not isinstance(loaded, dict):
            raise UsageError(f"config file {config_file} must be a mapping with 'model' and/or 'train' sections")
        layers.append((loaded, str(config_file)))
    for item in overrides:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise UsageError(f"override '{item}' must look like section.key=value, e.g. train.steps=100")
    if overrides:
        try:
            dotted = OmegaConf.to_container(OmegaConf.from_dotlist(list(overrides)))
        except OmegaConfBaseException as exc:
            raise UsageError(f"bad override: {str(exc).splitlines()[0]}") from exc
        layers.append((dotted, "the overrides"))
    explicit: set[str] = set()
    for values, where in layers:
        _check_keys(values, schema, where)
        if where != f"preset '{preset}'":
            explicit |= set(values.get("model", {}))
    try:
        merged = OmegaConf.merge(
            {"model": OmegaConf.structured(model_cls.Config), "train": OmegaConf.structured(TrainConfig)},
            *[values for values, _ in layers],
        )
        model_cfg, train_cfg = OmegaConf.to_object(merged.model), OmegaConf.to_object(merged.train)
    except OmegaConfBaseException as exc:
        raise UsageError(f"bad config value: {str(exc).splitlines()[0]}") from exc
    train_cfg.validate()
    check_model_config(model_cfg)  # sizes and windows: positive, finite numbers
    return model_cfg, train_cfg, explicit


def initial_weights(source: Model, conditioner: str, served: Sequence[str]) -> dict[str, torch.Tensor]:
    """The starting weights ``train --init`` takes from a trained model: its own, to go on training it on the
    same triggers, or, for an unconditioned model of one trigger, its conditioning for that trigger folded in
    (``asmr_zoo.factory.specialise``)."""
    from asmr_zoo.factory import specialise

    vocabulary = list(source.conditioner.vocabulary)
    if conditioner == source.conditioner.name and vocabulary == sorted(served):
        return source.state_dict()
    if conditioner == "none" and source.conditioner.conditioned:
        if len(served) != 1:
            raise UsageError(
                f"an unconditioned model started from a conditioned one serves one trigger, got {len(served)} "
                f"({', '.join(served)}): pass one --trigger"
            )
        return specialise(source, served[0]).state_dict()
    theirs = f"{source.conditioner.name} on {', '.join(vocabulary) or 'one trigger'}"
    raise UsageError(
        f"--init's model is {source.name} / {theirs}, this run {conditioner} on {', '.join(served)}: start from "
        "it with the same conditioner and triggers, or with --conditioner none and one of its triggers"
    )


# -- data ------------------------------------------------------------------------------------------


@dataclass
class Clip:
    codes: torch.Tensor  # (T, H)
    trigger: str
    video_id: str


def load_clips(rows: Sequence[Any], codec: Any, sample_rate: int) -> list[Clip]:
    """Read and encode the training copies of data-set rows."""
    from asmr_zoo.audio import read_audio

    clips = []
    for row in rows:
        if row.sample_rate != sample_rate:
            raise DataError(
                f"{row.path} is at {row.sample_rate} Hz but the model runs at {sample_rate} Hz: re-make the "
                f"data with --sample-rate {sample_rate} or set model.sample_rate={row.sample_rate}"
            )
        audio, rate = read_audio(row.path)
        if rate != sample_rate:
            raise DataError(f"{row.path} is at {rate} Hz, its manifest says {row.sample_rate}: re-make the data")
        clips.append(Clip(codec.encode(torch.from_numpy(audio.mean(axis=0))), row.trigger, row.video_id))
    return clips


def select_rows(rows: Sequence[Any], triggers: Sequence[str], data_dir: Path) -> list[Any]:
    """The rows of the asked triggers (all triggers if none asked); a trigger without data is an error."""
    available = sorted({r.trigger for r in rows})
    for trigger in triggers:
        if trigger not in available:
            raise DataError(f"no data for trigger '{trigger}' in {data_dir}; it has: {', '.join(available)}")
    return [r for r in rows if not triggers or r.trigger in triggers]


class WindowSampler:
    """Random training windows, deterministic in (seed, step, rank); fixed held-out windows for validation."""

    def __init__(self, clips: list[Clip], window: int, vocabulary: Sequence[str]) -> None:
        self.clips = [c for c in clips if len(c.codes) >= window]
        if not self.clips:
            longest = max((len(c.codes) for c in clips), default=0)
            raise DataError(
                f"every training clip is shorter than the training window ({window} samples; the longest has "
                f"{longest}): lower train.window or provide longer clips"
            )
        self.window = window
        self.index = {t: i for i, t in enumerate(vocabulary)}
        lengths = torch.tensor([len(c.codes) - window + 1 for c in self.clips], dtype=torch.float64)
        self.weights = lengths / lengths.sum()

    def batch(self, size: int, seed: int, step: int, rank: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        gen = torch.Generator().manual_seed(hash((seed, step, rank)) & 0x7FFFFFFF)
        picks = torch.multinomial(self.weights, size, replacement=True, generator=gen).tolist()
        windows, conds = [], []
        for i in picks:
            clip = self.clips[i]
            start = int(torch.randint(0, len(clip.codes) - self.window + 1, (1,), generator=gen))
            windows.append(clip.codes[start : start + self.window])
            conds.append(self.index.get(clip.trigger, 0))
        cond = torch.tensor(conds) if self.index else None
        return torch.stack(windows), cond


def held_out_windows(clips: list[Clip], window: int, per_trigger: int) -> dict[str, list[torch.Tensor]]:
    """Evenly spaced windows per trigger from the held-out clips (deterministic)."""
    out: dict[str, list[torch.Tensor]] = {}
    for trigger in sorted({c.trigger for c in clips}):
        pieces = [
            c.codes[s : s + window]
            for c in clips
            if c.trigger == trigger
            for s in range(0, max(1, len(c.codes) - window + 1), window)
        ]
        pieces = [p for p in pieces if len(p) == window] or [
            c.codes for c in clips if c.trigger == trigger and len(c.codes) > 1
        ][:1]
        step = max(1, len(pieces) // per_trigger)
        out[trigger] = pieces[::step][:per_trigger]
    return out


@torch.no_grad()
def bits_per_sample(model: Model, windows: list[torch.Tensor], trigger: str | None) -> float:
    """Mean negative log-likelihood of ``windows`` in bits per sample (summed over heads)."""
    total, count = 0.0, 0
    for length in sorted({len(w) for w in windows}):  # one batched pass per window length
        codes = torch.stack([w for w in windows if len(w) == length])
        cond = model.conditioner.encode([trigger] * len(codes)) if model.conditioner.conditioned else None
        total += float(model.loss_from_logits(model(codes, cond), codes)) * codes.shape[0] * codes.shape[1]
        count += codes.shape[0] * codes.shape[1]
    return total / max(count, 1) / math.log(2)


def unigram_bits(train: list[Clip], test: list[Clip], classes: int) -> float:
    """Bits per sample of the test codes under per-head unigram distributions of the training codes."""
    heads = train[0].codes.shape[1]
    total = 0.0
    for h in range(heads):
        counts = torch.ones(classes, dtype=torch.float64)  # add-one smoothing
        for c in train:
            counts += torch.bincount(c.codes[:, h], minlength=classes).double()
        logp = (counts / counts.sum()).log2()
        test_codes = torch.cat([c.codes[:, h] for c in test])
        total += float(-logp[test_codes].mean())
    return total


# -- the loop --------------------------------------------------------------------------------------


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Distributed:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1): gloo on CPU, nccl on GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size())


def resume_path(out: Path) -> Path:
    return out.with_name(out.name + ".resume")


def save_resume(
    path: Path,
    model: Model,
    optimizer: torch.optim.Optimizer,
    step: int,
    info: dict[str, Any],
    best: dict[str, Any],
    seconds: float,
) -> None:
    """Weights, optimizer state, step, the best validation so far and the training seconds spent, in one
    safetensors file, atomically."""
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for idx, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"opt.{idx}.{key}"] = torch.as_tensor(value).clone()
    meta = {"step": str(step), "param_groups": json.dumps(opt["param_groups"]), "info": json.dumps(info)}
    meta["best"] = json.dumps(best)
    meta["train_seconds"] = f"{seconds:.1f}"
    data = save(tensors, metadata=meta)  # bytes: written by Python, so a full disk is an OSError
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def load_resume(
    path: Path, model: Model, optimizer: torch.optim.Optimizer, info: dict[str, Any]
) -> tuple[int, dict[str, Any], float]:
    """Restore a resume file written by ``save_resume``; returns the step to continue from, the best and the
    training seconds spent so far. A file that is not what ``save_resume`` writes is refused before anything
    is restored (a CheckpointError naming the problem)."""
    from safetensors import safe_open

    def broken(why: str) -> CheckpointError:
        return CheckpointError(f"resume file {path} {why}: delete it to start afresh, or choose another --out")

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no iterator)
    except Exception as exc:
        raise broken(f"is unreadable ({' '.join(str(exc).split())})") from exc
    try:
        saved, groups = load_json(meta["info"]), load_json(meta["param_groups"])
        step, best = int(meta["step"]), load_json(meta.get("best", "{}"))
        seconds = float(meta.get("train_seconds", 0))
    except (KeyError, ValueError) as exc:
        raise broken(f"has malformed metadata ({type(exc).__name__}: {exc})") from None
    if not (isinstance(saved, dict) and isinstance(best, dict) and isinstance(groups, list)):
        raise broken("has malformed metadata (info, best or param_groups of the wrong type)")
    if step < 0 or not math.isfinite(seconds) or seconds < 0:
        raise broken(f"has malformed metadata (step {step}, train_seconds {seconds})")
    for key in ("model", "conditioner", "vocabulary", "model_config"):
        if saved.get(key) != info.get(key):
            raise UsageError(
                f"resume file {path} was made with a different {key.replace('_', ' ')} ({saved.get(key)}): "
                f"use the same settings, another --out, or delete it to start afresh"
            )
    state: dict[int, dict[str, Any]] = {}
    try:
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, idx, name = key.split(".", 2)
                state.setdefault(int(idx), {})[name] = value
    except ValueError:
        raise broken(f"has a malformed optimizer tensor name '{key}'") from None
    problem = _optimizer_state_problem(state, groups, optimizer)
    if problem:
        raise broken(problem)
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as exc:  # missing, unexpected or misshapen weights
        raise broken(f"does not fit this model ({' '.join(str(exc).split())[:300]})") from None
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return step, best, seconds


def _kind(value: Any) -> str:
    """A JSON-level type: numbers are one kind, lists and tuples another (JSON turns tuples into lists)."""
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    return "list" if isinstance(value, (list, tuple)) else type(value).__name__


def _optimizer_state_problem(state: dict[int, dict[str, Any]], groups: list, optimizer: Any) -> str | None:
    """Why the saved optimizer ``state`` and ``groups`` cannot be loaded into ``optimizer``, or None: each group's
    settings of the fresh optimizer's types and its parameters' indices; every parameter the same state tensors,
    each a scalar or shaped like the parameter."""
    fresh = optimizer.param_groups
    if len(groups) != len(fresh) or not all(isinstance(g, dict) for g in groups):
        return f"has {len(groups)} optimizer parameter groups where this optimizer has {len(fresh)}"
    params = [p for group in fresh for p in group["params"]]
    for saved, group in zip(groups, fresh, strict=True):
        wrong = [k for k in saved.keys() & group.keys() - {"params"} if _kind(saved[k]) != _kind(group[k])]
        indices = saved.get("params")
        if wrong or not isinstance(indices, list) or len(indices) != len(group["params"]):
            return f"has a malformed optimizer parameter group ({(wrong or ['params'])[0]})"
        if not all(isinstance(i, int) and 0 <= i < len(params) for i in indices):
            return "lists parameters this optimizer does not have"
    names = {name for entry in state.values() for name in entry}
    if state and len(state) != len(params):
        return f"has optimizer state for {len(state)} parameters where this model has {len(params)}"
    for idx, entry in state.items():
        if not 0 <= idx < len(params) or set(entry) != names:
            return f"lacks optimizer state {sorted(names - set(entry))} of parameter {idx}"
        shapes = {name: list(t.shape) for name, t in entry.items() if t.dim()}
        if any(shape != list(params[idx].shape) for shape in shapes.values()):
            return f"has optimizer state shaped {shapes} for parameter {idx} of shape {list(params[idx].shape)}"
    return None


class TrainingInterrupted(UsageError):
    """Training stopped by SIGINT or SIGTERM after saving a resumable checkpoint."""

    exit_code = 130


@contextlib.contextmanager
def _stop_on_signal() -> Iterator[list[int]]:
    """While active, SIGINT and SIGTERM only raise a flag (a non-empty list) that the loop checks between
    steps, so an interrupted run always leaves a consistent, resumable checkpoint."""
    import signal
    import threading

    flag: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    handler = lambda signum, frame: flag.append(signum)  # noqa: E731
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def learning_rate(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainResult:
    out: Path
    step: int
    metrics: dict[str, Any]


def trained_parameters(model: Model, cfg: TrainConfig) -> list[nn.Parameter]:
    """The parameters ``cfg.parts`` trains: every one, or the loudness prior's alone."""
    if cfg.parts == "all":
        return list(model.parameters())
    prior = model.frame_prior()
    if prior is None:
        raise UsageError("train.parts=prior trains a loudness prior: this model has none (model.envelope_levels=0)")
    return list(prior.parameters())


def train(
    model: Model,
    cfg: TrainConfig,
    train_clips: list[Clip],
    test_clips: list[Clip],
    out: Path,
    resume: bool = False,
    extra: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, float, float], None] | None = None,
    on_eval: Callable[[int, dict[str, Any]], None] | None = None,
    score_start: bool = False,
) -> TrainResult:
    """Train ``model``; write ``out`` (weights) and ``out.resume`` (everything to continue) periodically.
    ``progress(step, steps, loss bits, samples/s)`` is called every step, ``on_eval(step, metrics)`` after
    every held-out evaluation. ``score_start``: the model starts from trained weights (``train --init``), so
    a fresh run scores them first, and with ``keep_best`` never ends worse on held-out data than it began."""
    dist = setup_distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    window = cfg.window or model.config.window
    sampler = WindowSampler(train_clips, window, model.conditioner.vocabulary)
    held_out = held_out_windows(test_clips, window, cfg.eval_windows) if test_clips else {}
    prior_only = cfg.parts == "prior"
    params = trained_parameters(model, cfg)
    if prior_only and dist.world > 1:
        raise UsageError("train.parts=prior trains in one process (the prior is small): run it without torchrun")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    info = {
        "model": model.name,
        "conditioner": model.conditioner.name,
        "vocabulary": list(model.conditioner.vocabulary),
        "model_config": model.config_dict(),
    }
    step, best, spent = 0, {}, 0.0  # best: the metrics of the checkpoint in ``out`` (with keep_best)
    state_file = resume_path(out)
    if dist.main:  # temp files a killed run left behind (atomic writes never leave a partial final file)
        for name in (out.name, state_file.name):
            for stale in out.parent.glob(f".{name}.*.tmp"):
                stale.unlink(missing_ok=True)
    if resume and state_file.is_file():
        step, best, spent = load_resume(state_file, model, optimizer, info)
    net: nn.Module = model
    if dist.world > 1:
        net = nn.parallel.DistributedDataParallel(model)
    metrics: dict[str, Any] = {}

    def evaluate() -> dict[str, Any]:
        model.eval()
        per = {t: bits_per_sample(model, w, t) for t, w in held_out.items()}
        model.train()
        found = {"test_bits_per_sample": sum(per.values()) / len(per), "test_bits_per_trigger": per} if per else {}
        found["uniform_bits_per_sample"] = 8.0 * model.codec.heads
        if test_clips:
            found["unigram_bits_per_sample"] = unigram_bits(train_clips, test_clips, model.codec.classes)
        return found

    def save_weights() -> None:
        meta = {k: json.dumps(v) for k, v in (extra or {}).items()}
        meta["metrics"] = json.dumps({**metrics, "step": step, "train_seconds": round(seconds(), 1)})
        meta["train"] = json.dumps(dataclasses.asdict(cfg))
        save_checkpoint(out, model, extra=meta)

    def improved() -> bool:
        bits = metrics.get("test_bits_per_sample")
        return bits is not None and bits < best.get("test_bits_per_sample", float("inf"))

    def checkpoint() -> None:
        # Weights first: whenever a resume file exists, so does a checkpoint.
        if not (cfg.keep_best and held_out) or not out.exists():
            save_weights()
        save_resume(state_file, model, optimizer, step, info, best, seconds())

    model.train()
    started, samples = time.perf_counter(), 0

    def seconds() -> float:
        """Training time so far, over every run of this training (resumed ones included)."""
        return spent + time.perf_counter() - started

    if score_start and step == 0 and dist.main and held_out:
        metrics = evaluate()
        if on_eval is not None:
            on_eval(step, metrics)
        if cfg.keep_best:
            best = {**metrics, "step": step}
            save_weights()
    with _stop_on_signal() as stop:
        while step < cfg.steps:
            if stop:  # SIGINT / SIGTERM: finish no half step; save everything needed to continue
                if dist.main:
                    checkpoint()
                raise TrainingInterrupted(f"interrupted at step {step}: saved {state_file}; continue with --resume")
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, step)
            codes, cond = sampler.batch(cfg.batch_size, cfg.seed, step, dist.rank)
            loss = model.prior_loss(codes, cond) if prior_only else model.loss_from_logits(net(codes, cond), codes)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise DataError(f"the loss became {loss_value} at step {step}: lower train.lr or check the data")
            model.zero_grad(set_to_none=True)  # every gradient: with parts=prior, the embeddings get some too
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            step += 1
            samples += codes.shape[0] * codes.shape[1] * dist.world
            if progress is not None and dist.main:
                progress(step, cfg.steps, loss_value / math.log(2), samples / (time.perf_counter() - started))
            if dist.main and (step % cfg.eval_every == 0 or step == cfg.steps):
                metrics = evaluate()
                if on_eval is not None:
                    on_eval(step, metrics)
                if cfg.keep_best and improved():
                    best = {**metrics, "step": step}
                    save_weights()
            if dist.main and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
                checkpoint()
    if dist.main and not metrics:  # resumed at the end: nothing ran
        metrics = evaluate()
        checkpoint()
    if dist.world > 1:
        import torch.distributed as torch_dist

        torch_dist.barrier()
    return TrainResult(out, step, best if cfg.keep_best and best else metrics)
