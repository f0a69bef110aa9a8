"""Building models from names and configs: the one place that wires model, conditioner and codec."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from asmr_zoo.errors import UsageError
from asmr_zoo.interfaces import ModelConfig
from asmr_zoo.plugins import Zoo, get_zoo


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
    return model_cls(config, cond_cls(vocabulary), codec)
