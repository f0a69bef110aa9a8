"""Building models from names and configs: the one place that wires model, conditioner and codec."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from unittest import mock

from asmr_zoo.errors import UsageError
from asmr_zoo.interfaces import ModelConfig
from asmr_zoo.plugins import Zoo, get_zoo

MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights (8 GB to train with Adam): 7x the paper's WaveNet


def resolve_config(
    config_cls: type[ModelConfig],
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ModelConfig:
    """Dataclass defaults <- preset <- overrides, checked field by field with "did you mean" hints."""
    values: dict[str, Any] = {}
    if preset:
        presets = presets or {}
        if preset not in presets:
            raise UsageError(f"unknown preset '{preset}'; available: {', '.join(presets) or 'none'}")
        values.update(presets[preset])
    values.update(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    for key in values:
        if key not in fields:
            hint = difflib.get_close_matches(key, list(fields), n=1)
            raise UsageError(
                f"unknown config field '{key}' for {config_cls.__name__}"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; fields are: {', '.join(fields)}"
            )
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:  # omegaconf checks types (an int field given "abc" is an error, "16" becomes 16)
        merged = OmegaConf.merge(OmegaConf.structured(config_cls), values)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise UsageError(f"bad config value: {str(exc).splitlines()[0]}") from exc


def build_model(
    model: str,
    conditioner: str = "none",
    vocabulary: Sequence[str] = (),
    config: ModelConfig | Mapping[str, Any] | None = None,
    preset: str | None = None,
    zoo: Zoo | None = None,
) -> Any:
    """Build a fresh model by name: ``build_model("wavenet", "global", ["tapping_glass", "whispering"])``."""
    zoo = zoo or get_zoo()
    model_cls = zoo.load("models", model)
    cond_cls = zoo.load("conditioners", conditioner)
    model_cls.check_conditioner(cond_cls)
    codec = zoo.load("codecs", model_cls.codec_name)()
    if not isinstance(config, ModelConfig):
        config = resolve_config(model_cls.Config, model_cls.presets, preset, config)
    check_model_config(config)
    conditioner_obj = cond_cls(vocabulary)
    _check_size(model_cls, config, conditioner_obj, codec)
    return model_cls(config, conditioner_obj, codec)


def specialise(model: Any, trigger: str, zoo: Zoo | None = None) -> Any:
    """The unconditioned model (conditioner ``none``) that computes exactly what the conditioned ``model``
    computes for ``trigger``: its conditioning folded into biases (``Model.folded_state``). A per-trigger model
    to generate from or to fine-tune on that trigger's data alone."""
    if not model.conditioner.conditioned:
        raise UsageError(f"this {model.name} model is unconditioned already: there is no trigger to fold into it")
    vocabulary = list(model.conditioner.vocabulary)
    if trigger not in vocabulary:
        raise UsageError(f"this {model.name} model serves {', '.join(vocabulary)}, not '{trigger}'")
    folded = build_model(model.name, "none", [], unguided(model.config), zoo=zoo)
    folded.load_state_dict(model.folded_state(vocabulary.index(trigger)))
    return folded.train(model.training)


def unguided(config: ModelConfig) -> ModelConfig:
    """A copy of ``config`` for an unconditioned model: no trigger guidance (``envelope_guidance``), as there
    is no other trigger to tell its own apart from."""
    if getattr(config, "envelope_guidance", 0):
        return dataclasses.replace(config, envelope_guidance=0.0)
    return dataclasses.replace(config)


def check_model_config(config: ModelConfig, prefix: str = "model.") -> None:
    """Refuse values no model can be built from, naming the key: numbers must be finite and >= 0, and a size (an
    int field whose default is positive: layers, channels, hidden units, windows) must be >= 1; 0 is only for the
    fields it turns off (those that default to 0, e.g. envelope_levels)."""
    from asmr_zoo.validation import is_int, is_number

    for spec in dataclasses.fields(config):
        value, key = getattr(config, spec.name), f"{prefix}{spec.name}"
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{key} must be a finite number, got {value}")
        if is_number(value) and value < 0:
            raise UsageError(f"{key} must be >= 0, got {value}")
        if is_int(value) and value == 0 and is_int(spec.default) and spec.default > 0:
            raise UsageError(f"{key} must be >= 1 (0 leaves the model without it), got 0")


@contextlib.contextmanager
def meta_device() -> Iterator[None]:
    """Build modules on torch's meta device (shapes, no memory), skipping ``normal_`` initialisation: on the
    meta device it runs a Python reference that imports torch._dynamo, seconds of start-up for no values."""
    import torch

    with torch.device("meta"), mock.patch.object(torch.nn.init, "normal_", lambda tensor, *_, **__: tensor):
        yield


def _check_size(model_cls: type, config: ModelConfig, conditioner: Any, codec: Any) -> None:
    """Count the parameters of the model on torch's meta device (no memory) and refuse one too large to hold,
    before its weights are allocated. Models that cannot be built on the meta device are not counted."""
    import torch

    from asmr_zoo.errors import AsmrZooError

    if torch.empty(0).device.type == "meta":  # already building a skeleton (checkpoints' shape check): free
        return
    try:
        with meta_device():
            count = sum(p.numel() for p in model_cls(config, conditioner, codec).parameters())
    except AsmrZooError:
        raise
    except Exception:
        return
    if count > MAX_PARAMETERS:
        raise UsageError(
            f"this {model_cls.name} config makes {count:,} parameters, more than the {MAX_PARAMETERS:,} asmr-zoo "
            f"builds ({4 * count / 1e9:.0f} GB of weights): lower its sizes (layers, channels, hidden)"
        )
