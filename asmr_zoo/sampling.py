"""The built-in samplers: ancestral (temperature, top-k, top-p), greedy, and folded long-clip generation."""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any

import torch

from asmr_zoo.errors import UsageError
from asmr_zoo.interfaces import Model, Sampler, SamplingPolicy
from asmr_zoo.validation import check_seed, is_int, is_number, load_yaml

Progress = Callable[[int, int], None]  # (steps done, total steps)


def filter_logits(logits: torch.Tensor, policy: SamplingPolicy) -> torch.Tensor:
    """Apply temperature, then top-k, then nucleus (top-p) filtering to logits ``(B, C)``."""
    logits = logits / policy.temperature
    if policy.top_k and policy.top_k < logits.shape[-1]:
        kth = torch.topk(logits, policy.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if policy.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        outside = (torch.cumsum(probs, dim=-1) - probs) > policy.top_p  # keep the smallest set reaching p
        sorted_logits = sorted_logits.masked_fill(outside, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def pick_with_policy(logits: torch.Tensor, policy: SamplingPolicy) -> torch.Tensor:
    """Choose one class per row of ``logits`` ``(B, C)`` according to ``policy``."""
    if policy.greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits.float(), policy), dim=-1)
    return torch.multinomial(probs, 1, generator=policy.generator).squeeze(-1)


class PolicySampler(Sampler):
    """Generates ``batch`` clips (or one per conditioning entry) sample by sample with a fixed policy."""

    greedy = False

    def __init__(
        self,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        batch: int = 1,
    ) -> None:
        if not math.isfinite(temperature) or temperature < 0:
            raise UsageError(f"temperature must be a finite number >= 0, got {temperature}")
        if top_k < 0:
            raise UsageError(f"top-k must be >= 0 (0 disables it), got {top_k}")
        if not 0.0 < top_p <= 1.0:
            raise UsageError(f"top-p must be in (0, 1] (1 disables it), got {top_p}")
        if batch < 1:
            raise UsageError(f"batch must be >= 1, got {batch}")
        check_seed(seed)
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        self.batch = batch
        self.policy = SamplingPolicy(
            temperature=temperature or 1.0,
            top_k=top_k,
            top_p=top_p,
            greedy=self.greedy or temperature == 0,
            generator=generator,
        )

    def pick(self, logits: torch.Tensor, head: int) -> torch.Tensor:
        return pick_with_policy(logits, self.policy)

    def clips(self, cond: torch.Tensor | None) -> int:
        return self.batch if cond is None else int(cond.shape[0])

    def generate_codes(
        self,
        model: Model,
        num_samples: int,
        cond: torch.Tensor | None,
        progress: Progress | None = None,
        batch: int | None = None,
    ) -> torch.Tensor:
        """Codes ``(B, num_samples, H)``: the model's fused loop if it has one, else ``step`` by step."""
        return self._codes_and_state(model, num_samples, cond, progress, batch)[0]

    def _codes_and_state(
        self,
        model: Model,
        num_samples: int,
        cond: torch.Tensor | None,
        progress: Progress | None,
        batch: int | None = None,
    ) -> tuple[torch.Tensor, Any]:
        """``generate_codes`` and the generation's final state (for ``Model.finish``)."""
        if num_samples < 1:
            raise UsageError(f"number of samples must be >= 1, got {num_samples}")
        batch = batch or self.clips(cond)
        with torch.inference_mode():
            state = model.init_state(batch, cond)
            # A model's fused loop implements the standard policy only: a sampler with its own pick() steps.
            if type(self).pick is PolicySampler.pick:
                codes = model.generate_fast(num_samples, state, self.policy, progress)
                if codes is not None:
                    return codes, state
            elif type(model).generate_fast is not Model.generate_fast:
                warnings.warn(
                    f"sampler '{self.name}' picks with its own pick(), so {model.name}'s fast generation loop is "
                    f"off: generating step by step (slower)",
                    RuntimeWarning,
                    stacklevel=3,
                )
            out = torch.empty(batch, num_samples, model.codec.heads, dtype=torch.long)
            prev = torch.tensor(model.codec.silence, dtype=torch.long).expand(batch, -1)
            every = max(1, num_samples // 200)
            for t in range(num_samples):
                prev, _, state = model.step(prev, state, self.pick)
                out[:, t] = prev
                if progress is not None and ((t + 1) % every == 0 or t + 1 == num_samples):
                    progress(t + 1, num_samples)
        return out, state

    def generate(
        self, model: Model, num_samples: int, cond: torch.Tensor | None, progress: Progress | None = None
    ) -> torch.Tensor:
        codes, state = self._codes_and_state(model, num_samples, cond, progress)
        return model.finish(model.codec.decode(codes), state)


class AncestralSampler(PolicySampler):
    """Draw each sample from the model's softmax, with temperature, top-k and nucleus (top-p) filtering."""

    name = "ancestral"


class GreedySampler(PolicySampler):
    """Always pick the most likely class: deterministic, and prone to silence, as greedy audio decoding is."""

    name = "greedy"
    greedy = True


class FoldedSampler(PolicySampler):
    """One long clip as overlapping folds generated together in a batch, then cross-faded.

    Trades independence across fold boundaries for speed: ``folds`` times fewer sequential steps.
    """

    name = "folded"

    def __init__(self, *args, fold_length: int = 8000, overlap: int = 800, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not (is_int(fold_length) and is_int(overlap)):
            raise UsageError(
                f"fold_length and overlap must be whole numbers of samples, got {fold_length!r}, {overlap!r}"
            )
        if overlap < 0 or fold_length <= overlap:
            raise UsageError(f"need 0 <= overlap < fold length, got overlap {overlap}, fold {fold_length}")
        self.fold_length, self.overlap = fold_length, overlap

    def generate(
        self, model: Model, num_samples: int, cond: torch.Tensor | None, progress: Progress | None = None
    ) -> torch.Tensor:
        if num_samples < 1:
            raise UsageError(f"number of samples must be >= 1, got {num_samples}")
        hop = self.fold_length - self.overlap
        folds = max(1, math.ceil((num_samples - self.overlap) / hop))
        length = min(self.fold_length, num_samples) if folds == 1 else self.fold_length
        clips = self.clips(cond)
        fold_cond = None if cond is None else cond.repeat_interleave(folds)
        codes, state = self._codes_and_state(model, length, fold_cond, progress, batch=clips * folds)
        wav = model.finish(model.codec.decode(codes), state).reshape(clips, folds, length)
        # Equal-power fades keep independent folds at constant loudness, but can overshoot where they correlate.
        return crossfade(wav, hop)[:, :num_samples].clamp(-1.0, 1.0)


def crossfade(folds: torch.Tensor, hop: int) -> torch.Tensor:
    """Overlap-add folds ``(B, F, L)`` at ``hop`` with equal-power (sine/cosine) fades."""
    clips, count, length = folds.shape
    overlap = length - hop if count > 1 else 0  # one fold (a clip shorter than a fold) has nothing to fade
    out = torch.zeros(clips, hop * (count - 1) + length)
    fade_in = torch.sin(torch.linspace(0, math.pi / 2, overlap + 2)[1:-1]) if overlap else torch.ones(0)
    for i in range(count):
        fold = folds[:, i].clone()
        if i > 0 and overlap:
            fold[:, :overlap] *= fade_in
        if i < count - 1 and overlap:
            fold[:, -overlap:] *= fade_in.flip(0)
        out[:, i * hop : i * hop + length] += fold
    return out


POLICY_OPTIONS = ("temperature", "top_k", "top_p", "seed", "batch")


def sampler_options(sampler_cls: type, pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings -> keyword arguments of ``sampler_cls`` (values parsed as YAML scalars), checked
    against its constructor: an unknown key is an error that lists the sampler's own options."""
    defaults = {  # each option's default, subclasses first
        name: param.default
        for cls in reversed(sampler_cls.__mro__)
        if "__init__" in vars(cls)
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD) and name != "self"
    }
    accepted = set(defaults) - set(POLICY_OPTIONS)
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"--sampler-option '{pair}' must look like key=value, e.g. fold_length=8000")
        if key in POLICY_OPTIONS:
            raise UsageError(f"--sampler-option {key}: use the --{key.replace('_', '-')} option instead")
        if key not in accepted:
            own = ", ".join(sorted(accepted)) or "none"
            raise UsageError(f"sampler '{sampler_cls.name}' has no option '{key}'; its options: {own}")
        options[key] = _option_value(f"bad option for sampler '{sampler_cls.name}': {key}", raw, defaults[key])
    return options


def _option_value(what: str, raw: str, default: Any) -> Any:
    """``raw`` parsed as YAML, then held to the type of the option's ``default``: a number option takes a finite
    number (an int option a whole one; ``1e9`` counts), a bool option true or false. Errors start with ``what``."""
    import yaml

    try:
        value = load_yaml(raw)
    except yaml.YAMLError:
        value = raw
    if isinstance(default, bool) or not is_number(default):
        if isinstance(default, bool) and not isinstance(value, bool):
            raise UsageError(f"{what} must be true or false, got {raw!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{what} must be a finite number, got {raw!r}")
        return value
    try:
        number = float(raw) if isinstance(value, str) else value  # YAML reads 1e9 as a string
    except ValueError:
        number = None
    if not is_number(number):
        raise UsageError(f"{what} must be a finite number, got {raw!r}")
    if is_int(default):
        if float(number) != int(number):
            raise UsageError(f"{what} must be a whole number, got {raw!r}")
        return int(number)
    return float(number)
