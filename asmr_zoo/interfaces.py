"""The interfaces every component implements: Codec, Conditioner, Model, Sampler (and DataSource).

The core knows only these; concrete components come from plugins (see ``asmr_zoo.hookspecs``).

Shapes used throughout:
- a waveform is a float tensor in [-1, 1], shape ``(batch, time)``;
- codes are a long tensor ``(batch, time, heads)``, one class index per codec head;
- logits are a float tensor ``(batch, time, heads, classes)``;
- ``cond`` is a long tensor ``(batch,)`` of trigger indices into the conditioner's vocabulary, or a float
  tensor ``(batch, vocabulary)`` of blend weights (rows summing to 1), or ``None`` for unconditioned models.

This module imports torch; the plugin hooks must not import it at module level (``--help`` and ``list``
stay torch-free), so plugins register ``"module:attr"`` strings that are imported on first use.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from asmr_zoo.datasource import DataSource, Segment
from asmr_zoo.errors import UsageError
from asmr_zoo.triggers import validate_trigger_name

# pick(logits (batch, classes), head) -> codes (batch,): the sampler's decision for one head.
Pick = Callable[[torch.Tensor, int], torch.Tensor]


class Codec(ABC):
    """Waveform in [-1, 1] <-> integer class codes, one or more heads of ``classes`` classes each."""

    name: ClassVar[str]
    heads: ClassVar[int]
    classes: ClassVar[int] = 256

    @abstractmethod
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """Float waveform ``(...)`` -> long codes ``(..., heads)``. Clips to [-1, 1]; rejects NaN/inf."""

    @abstractmethod
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Long codes ``(..., heads)`` -> float waveform ``(...)`` in [-1, 1]."""

    @property
    def silence(self) -> tuple[int, ...]:
        """The codes of a zero sample: where generation starts."""
        with torch.device("cpu"):  # real numbers even while a model is sized on the meta device
            return tuple(int(c) for c in self.encode(torch.zeros(1))[0])

    def scale(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``(..., heads)`` -> floats in [-1, 1] per head, the usual network input."""
        return codes.float() * (2.0 / (self.classes - 1)) - 1.0


# A request for one clip: a trigger name, or a blend {trigger: weight} (weights > 0, normalised to sum 1).
Request = str | Mapping[str, float]


def _positive(weight: object) -> bool:
    return isinstance(weight, (int, float)) and math.isfinite(weight) and weight > 0


class Conditioner:
    """Turns a request (a trigger, a blend of triggers) into the conditioning vectors a model injects; owns the
    trigger vocabulary saved with checkpoints.

    The model owns the learned per-trigger table and the equation that injects a vector (``global``: WaveNet
    eq. 6, ``gate-bias``: WaveRNN eq. 2, ``concat``: WaveRNN eq. 3); the conditioner makes the vector from the
    table (``vectors``). A plugin conditioner names the built-in equation it uses in ``injection`` and
    overrides ``vectors`` (and ``encode``), so it works with the built-in models.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    conditioned: ClassVar[bool] = True
    injection: ClassVar[str | None] = None  # the model equation that injects the vectors; None: ``name``

    @classmethod
    def equation(cls) -> str:
        """The equation a model injects this conditioner's vectors with: ``injection``, or the name."""
        return cls.injection or cls.name

    def __init__(self, vocabulary: Sequence[str] = ()) -> None:
        vocabulary = tuple(vocabulary)
        if self.conditioned and not vocabulary:
            raise UsageError(f"conditioner '{self.name}' needs at least one trigger in its vocabulary")
        if not self.conditioned and vocabulary:
            raise UsageError(f"conditioner '{self.name}' takes no triggers, got {list(vocabulary)}")
        if len(set(vocabulary)) != len(vocabulary):
            raise UsageError(f"duplicate trigger names in vocabulary {list(vocabulary)}")
        for trigger in vocabulary:
            validate_trigger_name(trigger)
        self.vocabulary: tuple[str, ...] = vocabulary

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, requests: Sequence[Request]) -> torch.Tensor | None:
        """One request per clip -> ``cond``: trigger indices ``(batch,)`` when every request is a trigger
        name, else blend weights ``(batch, vocabulary)`` (each row sums to 1); ``None`` when unconditioned."""
        if not self.conditioned:
            return None
        blends = [{r: 1.0} if isinstance(r, str) else dict(r) for r in requests]
        for blend in blends:
            unknown = [t for t in blend if t not in self.vocabulary]
            if unknown:
                raise UsageError(
                    f"trigger '{unknown[0]}' is not in this model's vocabulary; "
                    f"choose one of: {', '.join(self.vocabulary)}"
                )
            bad = [
                f"{t}={w}" for t, w in blend.items() if not (isinstance(w, (int, float)) and math.isfinite(w) and w > 0)
            ]
            if bad or not blend:
                raise UsageError(f"blend weights must be finite numbers > 0, got {bad[0] if bad else 'an empty blend'}")
        if all(isinstance(r, str) for r in requests):
            return torch.tensor([self.vocabulary.index(t) for t in requests], dtype=torch.long)
        weights = torch.zeros(len(blends), len(self.vocabulary))
        for row, blend in zip(weights, blends, strict=True):
            peak = max(blend.values())  # scaled in Python first: 1e308 overflows float32, 1e-50 vanishes in it
            for trigger, weight in blend.items():
                row[self.vocabulary.index(trigger)] = weight / peak
        return weights / weights.sum(dim=1, keepdim=True)

    def vectors(self, cond: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """The conditioning vectors ``(batch, dim)`` made from a model's learned per-trigger ``table``
        ``(vocabulary, dim)``: each trigger's row, or each blend's weighted mix of rows (as the original
        code mixed class embeddings)."""
        if not cond.is_floating_point():
            if cond.dim() != 1 or (cond < 0).any() or (cond >= table.shape[0]).any():
                raise UsageError(f"cond must be trigger indices (batch,) in [0, {table.shape[0]}), got {cond.tolist()}")
            return nn.functional.embedding(cond.long(), table)
        if cond.dim() != 2 or cond.shape[1] != table.shape[0]:
            raise UsageError(f"blend weights must have shape (batch, {table.shape[0]}), got {tuple(cond.shape)}")
        return cond.to(table.dtype) @ table


@dataclass
class ModelConfig:
    """Fields every model config has; each model subclasses this with its own architecture fields."""

    sample_rate: int = 16000
    window: int = 4000  # training window in samples (WaveRNN: the truncated-BPTT length)


class Model(nn.Module, ABC):
    """An autoregressive raw-audio model.

    Subclasses set ``name``, ``codec`` (a codec name), ``conditioners`` (the names they accept),
    ``Config`` (a ``ModelConfig`` dataclass) and optionally ``presets`` (name -> dict of config fields),
    and are constructed as ``Model(config, conditioner, codec)``.
    """

    name: ClassVar[str]
    codec_name: ClassVar[str]
    conditioners: ClassVar[tuple[str, ...]]
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, config: ModelConfig, conditioner: Conditioner, codec: Codec) -> None:
        super().__init__()
        self.check_conditioner(type(conditioner))
        if codec.name != self.codec_name:
            raise UsageError(f"model '{self.name}' needs codec '{self.codec_name}', got '{codec.name}'")
        self.config = config
        self.conditioner = conditioner
        self.codec = codec

    @classmethod
    def check_conditioner(cls, conditioner: type[Conditioner]) -> None:
        """Refuse a conditioner whose equation this model does not implement."""
        if conditioner.equation() not in cls.conditioners:
            via = f" (injected as '{conditioner.equation()}')" if conditioner.equation() != conditioner.name else ""
            raise UsageError(
                f"model '{cls.name}' does not accept conditioner '{conditioner.name}'{via}; "
                f"it accepts: {', '.join(cls.conditioners)}"
            )

    @abstractmethod
    def forward(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced pass: codes ``(B, T, H)`` -> logits ``(B, T, H, C)``.

        ``logits[:, t]`` predicts ``codes[:, t]`` from ``codes[:, :t]`` (the model shifts its input itself,
        starting from the codec's silence), plus whatever the architecture allows within step t (WaveRNN's
        fine head sees the current coarse code).
        """

    @abstractmethod
    def init_state(self, batch: int, cond: torch.Tensor | None = None) -> Any:
        """The recurrent state (or WaveNet queues) before the first sample of a generation."""

    @abstractmethod
    def step(self, prev: torch.Tensor, state: Any, pick: Pick) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """One generation step.

        ``prev`` is the previous sample's codes ``(B, H)`` (the codec's silence at t = 0). Calls
        ``pick(logits, head)`` once per head, in head order, and returns ``(codes (B, H), logits (B, H, C),
        new_state)``.
        """

    def generate_fast(
        self,
        num_samples: int,
        state: Any,
        policy: SamplingPolicy,
        progress: Callable[[int, int], None] | None = None,
    ) -> torch.Tensor | None:
        """An optional fused generation loop: codes ``(B, num_samples, H)``, or ``None`` if not available.

        The policy samplers call it first, so a model may run the whole loop natively (a fused cell, a
        cached queue). It must draw from the same distribution as ``step`` with ``policy`` (see
        ``asmr_zoo.sampling.pick_with_policy``) and call ``progress(done, total)`` now and then.
        """
        return None

    def frame_prior(self) -> nn.Module | None:
        """The model's frame-rate prior (an envelope variant's loudness prior), or None; ``train.parts=prior``
        trains it alone, through ``prior_loss``."""
        return None

    def prior_loss(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The frame-rate prior's part of the training loss alone, nats per sample (a model with a frame prior)."""
        raise NotImplementedError(f"model '{self.name}' has no frame-rate prior")

    def check_fast_path(self, config: ModelConfig) -> None:
        """Refuse generation-loop settings of ``config`` (e.g. ``fast_weights``) this model cannot run."""

    def use_fast_weights(self, precision: str) -> None:
        """Generate with the fused loop's weights in ``precision`` (``run --weights``), checked as at construction."""
        if not hasattr(self.config, "fast_weights"):
            raise UsageError(f"model '{self.name}' has no generation loop whose weights --weights could set: drop it")
        config = dataclasses.replace(self.config, fast_weights=precision)
        try:
            self.check_fast_path(config)
        except UsageError as e:
            raise UsageError(f"--weights {precision}: {e}") from None
        self.config = config

    def use_guidance(self, scale: float) -> None:
        """Generate with the band prior's trigger guidance ``scale`` (``run --guidance``; ``asmr_zoo.guidance``)."""
        from asmr_zoo.guidance import MAX_GUIDANCE
        from asmr_zoo.validation import is_number

        if not hasattr(self.config, "envelope_guidance"):
            raise UsageError(f"model '{self.name}' has no envelope prior for --guidance to steer: drop it")
        if not is_number(scale) or not 0 <= scale <= MAX_GUIDANCE:
            raise UsageError(f"--guidance must be a number in [0, {MAX_GUIDANCE:g}] (0: off), got {scale}")
        if scale and (self.frame_prior() is None or not self.conditioner.conditioned):
            raise UsageError(
                f"--guidance steers a conditioned model's envelope prior towards its trigger; this {self.name} "
                f"({self.conditioner.name}) has none: drop it"
            )
        self.config = dataclasses.replace(self.config, envelope_guidance=float(scale))

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def loss(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The training loss of a teacher-forced pass (see ``loss_from_logits``)."""
        return self.loss_from_logits(self(codes, cond), codes)

    def finish(self, wav: torch.Tensor, state: Any) -> torch.Tensor:
        """The audio ``(B, T)`` a generation ends with, from its decoded codes and its final state: the
        codes as decoded, unless the model post-processes them (the envelope variants' band post-filter)."""
        return wav

    def loss_from_logits(self, logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats per sample, summed over heads (coarse CE + fine CE for WaveRNN).

        Kept apart from ``forward`` so that training can run the forward pass through a wrapper
        (DistributedDataParallel). Models with weighted heads override this.
        """
        return (
            nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1), reduction="mean")
            * codes.shape[-1]
        )

    def trigger_embeddings(self) -> torch.Tensor | None:
        """The learned trigger embeddings ``(vocabulary, dim)`` for conditioned models (Figure 8), else None."""
        return None

    def folded_state(self, index: int) -> dict[str, torch.Tensor]:
        """The weights of the unconditioned model (conditioner ``none``, the same config) that computes what
        this conditioned model computes for trigger ``index`` of its vocabulary: the trigger's conditioning
        terms, constant over a clip, folded into biases (``asmr_zoo.factory.specialise`` builds the model).
        Models that cannot fold a trigger raise UsageError."""
        raise UsageError(f"model '{self.name}' cannot fold a trigger into an unconditioned model")

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)


@dataclass
class SamplingPolicy:
    """The decision policy of a sampler, in a form fused generation loops can implement natively."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False
    generator: torch.Generator | None = None


class Sampler(ABC):
    """The generation loop and the decision policy. Any sampler works with any model.

    Constructed with keyword arguments ``temperature``, ``top_k``, ``top_p``, ``seed`` and ``batch``
    (the number of clips when no conditioning says otherwise); a sampler may accept more.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def pick(self, logits: torch.Tensor, head: int) -> torch.Tensor:
        """Logits ``(B, C)`` -> chosen codes ``(B,)``."""

    @abstractmethod
    def generate(
        self,
        model: Model,
        num_samples: int,
        cond: torch.Tensor | None,
        progress: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """Generate ``num_samples`` samples per clip; ``cond`` has one entry per clip (or clips
        are counted by the sampler's own ``batch`` when ``cond`` is None). Returns a waveform ``(B, T)``:
        the decoded codes passed through ``model.finish(wav, state)`` with the generation's final state.
        ``progress(done, total)`` reports generation steps."""


__all__ = ["Codec", "Conditioner", "DataSource", "Model", "ModelConfig", "Pick", "Sampler", "SamplingPolicy", "Segment"]
