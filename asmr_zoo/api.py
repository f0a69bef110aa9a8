"""The Python API: what `asmr-zoo run` and `asmr-zoo list` do, for notebooks and programs.

    import asmr_zoo
    audio, rate = asmr_zoo.generate("wavenet", trigger="brushing_mic", conditioner="global", seconds=3, seed=1)
    gen = asmr_zoo.load("wavernn-concat")          # a registry id, or a path to a .safetensors file
    clips = gen.generate("tapping_glass", seconds=2, batch=4, seed=0)   # (4, samples) float32 in [-1, 1]
    mix = gen.generate({"tapping_glass": 0.7, "brushing_mic": 0.3})      # a blend of trigger embeddings
    asmr_zoo.list_checkpoints("wavenet*")

Errors are ``asmr_zoo.errors.AsmrZooError`` subclasses with a one-line message that says what to do.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asmr_zoo.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

Note = Callable[[str], None]  # receives notes such as 'using tapping_glass for "glass tapping"'
Trigger = str | Mapping[str, float]  # a trigger, or a blend {trigger: weight}
MAX_BATCH = 1024
MAX_SECONDS = 3600.0


def pick_trigger(asked: str | None, served: list[str], note: Note | None = None) -> str:
    """The trigger to generate: ``asked`` (a name, or free text such as "glass tapping", normalised with a
    note), or the one trigger a checkpoint serves; an unknown one gets "did you mean" and the served list."""
    from asmr_zoo.triggers import UNKNOWN, normalise_trigger, validate_trigger_name

    if asked is None:
        if len(served) == 1:
            return served[0]
        raise UsageError(f"pass a trigger: this checkpoint serves {', '.join(served)}")
    name = asked
    if asked not in served and not re.fullmatch(r"[a-z_]+", asked):  # free text, not a misspelt name
        normalised = normalise_trigger(asked)
        if normalised not in (UNKNOWN, asked):
            if note is not None:
                note(f'using {normalised} for "{asked}"')
            name = normalised
    if served and name not in served:
        hint = difflib.get_close_matches(name, served, n=1)
        try:
            validate_trigger_name(name)
            problem = f"this checkpoint does not serve '{name}'"
        except UsageError as err:  # a malformed name: the taxonomy's own reason
            problem = str(err)
        raise UsageError(
            problem + (f" (did you mean '{hint[0]}'?)" if hint else "") + f"; available triggers: {', '.join(served)}"
        )
    return validate_trigger_name(name)


def parse_triggers(values: Sequence[str] | None) -> Trigger | None:
    """``--trigger`` values: one trigger (a name or free text), or a blend given as ``name=weight`` values
    (``-t tapping_glass=0.7 -t brushing_mic=0.3``)."""
    values = list(values or [])
    if len(values) <= 1 and not any("=" in v for v in values):
        return values[0] if values else None
    blend: dict[str, float] = {}
    for value in values:
        name, sep, weight = value.partition("=")
        name = name.strip()
        if not sep:
            raise UsageError(f"to blend triggers give each a weight, e.g. -t {value}=0.5; got '{value}' without one")
        try:
            blend_weight = float(weight)
        except ValueError:
            raise UsageError(f"the weight in '{value}' is not a number; write name=weight, e.g. {name}=0.5") from None
        if name in blend:
            raise UsageError(f"trigger '{name}' is given twice in the blend; give each trigger once")
        blend[name] = blend_weight
    return blend


def label_of(trigger: Trigger) -> str:
    """A trigger's name, or a blend's names joined by '+' (for file names and progress lines)."""
    return trigger if isinstance(trigger, str) else "+".join(trigger)


def pick_blend(blend: Mapping[str, float], served: list[str], note: Note | None = None) -> dict[str, float]:
    """A blend with each trigger picked as ``pick_trigger`` picks one (free text normalised)."""
    if not served:
        raise UsageError("blends need a conditioned model: this one is unconditioned, give one trigger")
    picked: dict[str, float] = {}
    for name, weight in blend.items():
        picked[pick_trigger(name, served, note)] = weight
    if len(picked) != len(blend):
        raise UsageError(f"the blend {label_of(blend)} names the same trigger twice; give each trigger once")
    return picked


def check_request(seconds: float, batch: int) -> None:
    """Refuse a clip length or batch size that is not finite, not positive or unbounded."""
    import math

    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise UsageError(f"--seconds must be in (0, {MAX_SECONDS:g}], got {seconds}")
    if not 1 <= batch <= MAX_BATCH:
        raise UsageError(f"--batch must be in [1, {MAX_BATCH}], got {batch}")


def make_sampler(
    name: str,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    batch: int = 1,
    options: dict[str, Any] | None = None,
    zoo: Any = None,
) -> Any:
    """The sampler ``name`` with these settings: every setting is checked here (`run` calls it before loading a
    model, so a bad --seed or --top-p costs no checkpoint load)."""
    from asmr_zoo.plugins import get_zoo

    sampler_cls = (zoo or get_zoo()).load("samplers", name)
    try:
        return sampler_cls(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, batch=batch, **(options or {}))
    except TypeError as exc:  # e.g. a string where the sampler compares numbers
        raise UsageError(f"bad option for sampler '{name}': {exc}") from None


@dataclass
class Generator:
    """A loaded checkpoint, ready to generate: ``.generate(...)``, ``.sample_rate``, ``.triggers``."""

    model: Any  # the asmr_zoo Model (a torch module)
    source: str  # the registry id or the file it came from
    triggers: list[str] = field(default_factory=list)

    @classmethod
    def from_entry(cls, entry: Any, zoo: Any = None) -> Generator:
        """The checkpoint of a registry entry, loaded (sha256-checked)."""
        return cls(entry.load(zoo), entry.id, list(entry.triggers))

    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    def generate(
        self,
        trigger: Trigger | None = None,
        seconds: float = 2.0,
        seed: int | None = None,
        batch: int = 1,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        sampler: str = "ancestral",
        progress: Callable[[int, int], None] | None = None,
        note: Note | None = None,
        sampler_options: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """``batch`` clips of ``seconds`` of ``trigger`` (a name, or a blend ``{name: weight}`` of triggers the
        model knows, its embeddings mixed by weight) as float32 ``(batch, samples)`` in [-1, 1];
        ``sampler_options`` go to the sampler (e.g. ``{"fold_length": 8000}`` for ``folded``)."""
        from asmr_zoo.plugins import get_zoo

        check_request(seconds, batch)
        if isinstance(trigger, Mapping):
            served = list(self.model.conditioner.vocabulary)
            trigger = pick_blend(trigger, served, note)
        else:
            trigger = pick_trigger(trigger, self.triggers, note)
        policy = make_sampler(sampler, temperature, top_k, top_p, seed, batch, sampler_options, get_zoo())
        cond = self.model.conditioner.encode([trigger] * batch)
        num_samples = max(1, round(seconds * self.sample_rate))
        return policy.generate(self.model, num_samples, cond, progress).float().numpy()


def load(id_or_path: str | Path, zoo: Any = None) -> Generator:
    """A registered checkpoint by id, or a ``.safetensors`` file (which names its own model)."""
    from asmr_zoo.checkpoints import load_checkpoint, read_metadata
    from asmr_zoo.plugins import get_zoo
    from asmr_zoo.registry import load_registry

    zoo = zoo or get_zoo()
    path = Path(id_or_path)
    if path.suffix == ".safetensors" or path.is_file():
        meta = read_metadata(path)
        served = json.loads(meta.get("extra.triggers", "[]")) or json.loads(meta["vocabulary"])
        return Generator(load_checkpoint(path, zoo=zoo), str(path), list(served))
    return Generator.from_entry(load_registry(zoo).get(str(id_or_path)), zoo)


def resolve(
    model: str,
    conditioner: str,
    trigger: Trigger | None,
    zoo: Any = None,
    note: Note | None = None,
    channels: int = 1,
) -> tuple:
    """The registry's pick for (model, conditioner, trigger): ``(entry, trigger)``, the trigger normalised;
    ``channels`` 2: a stereo variant. A blend takes the checkpoint picked for its heaviest trigger, which must
    serve every trigger in it."""
    from asmr_zoo.plugins import get_zoo
    from asmr_zoo.registry import load_registry

    zoo = zoo or get_zoo()
    zoo.component("models", model)
    zoo.component("conditioners", conditioner)
    registry = load_registry(zoo)
    served = sorted({t for e in registry.find(model, conditioner, channels=channels) for t in e.triggers})
    served = served or sorted({t for e in registry.find(model, conditioner) for t in e.triggers})
    if isinstance(trigger, Mapping):
        if conditioner == "none":
            raise UsageError("blends need a conditioned model (e.g. --conditioner global); give one trigger")
        blend = pick_blend(trigger, served, note)
        entry = registry.resolve(model, conditioner, max(blend, key=blend.__getitem__), channels)
        missing = [t for t in blend if t not in entry.triggers]
        if missing:
            raise UsageError(
                f"no single {model}/{conditioner} checkpoint serves every trigger of {label_of(blend)} "
                f"('{entry.id}' lacks {', '.join(missing)}); blend triggers one checkpoint serves"
            )
        return entry, blend
    trigger = pick_trigger(trigger, served, note) if served else pick_trigger(trigger or "", [], note)
    return registry.resolve(model, conditioner, trigger, channels), trigger


def generate(
    model: str,
    trigger: Trigger,
    conditioner: str = "none",
    seconds: float = 2.0,
    seed: int | None = None,
    **options: Any,
) -> tuple[np.ndarray, int]:
    """Generate from the checkpoint the registry picks: ``(samples, sample_rate)``; samples are
    ``(samples,)`` for one clip, ``(batch, samples)`` with ``batch=N``. ``options``: see ``Generator.generate``."""
    from asmr_zoo.plugins import get_zoo

    zoo = get_zoo()
    entry, trigger = resolve(model, conditioner, trigger, zoo)
    gen = Generator.from_entry(entry, zoo)
    audio = gen.generate(trigger, seconds=seconds, seed=seed, **options)
    return (audio[0] if options.get("batch", 1) == 1 else audio), gen.sample_rate


def list_checkpoints(pattern: str | None = None) -> list[dict[str, Any]]:
    """Registered checkpoints (shipped and your own) whose id or model matches ``pattern`` (wildcards)."""
    from asmr_zoo.registry import load_registry

    return [
        e.as_dict() for e in load_registry().entries.values() if matches(e.id, pattern) or matches(e.model, pattern)
    ]


def matches(name: str, pattern: str | None) -> bool:
    """``pattern`` with wildcards (``wave*``), or a plain substring; no pattern matches everything."""
    if not pattern:
        return True
    return fnmatch.fnmatch(name, pattern if any(c in pattern for c in "*?[") else f"*{pattern}*")
