"""Model cards: what a registered checkpoint is, what it was trained on, how well it does and what it is for.

``card_facts`` gathers the facts from the registry entry, the checkpoint's own metadata and the loaded model;
``render_card`` writes them as Markdown (``asmr-zoo info ID --card``) or as the report's HTML page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from asmr_zoo.registry import Entry

INTENDED_USE = (
    "Research and demonstration: listening to, and measuring, what sample-level autoregressive models (the "
    'paper "ASMR Is All You Need") generate for ASMR triggers, and a baseline to compare your own checkpoints '
    "against with asmr-zoo eval and asmr-zoo report. It is not a production sound generator."
)


def templates() -> Any:
    """The Jinja2 environment of the package's templates (HTML autoescaped, Markdown not)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("asmr_zoo", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    return env


def fmt(value: Any, spec: str = "") -> str:
    """``value`` formatted with ``spec`` (``".2f"``, ``".0%"``, ``","``), or ``-`` when it is missing."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


def metadata_json(meta: Mapping[str, str], key: str) -> dict[str, Any]:
    """A JSON ``asmr_zoo.extra.*`` metadata value of a checkpoint, ``{}`` when absent."""
    value = json.loads(meta.get(key, "{}"))
    return value if isinstance(value, dict) else {}


def per_trigger(metrics: Mapping[str, Any], trigger: str) -> dict[str, float | None]:
    """A registry entry's recorded metrics for one trigger: held-out and unigram bits/sample, the share of
    generated clips the classifier recognised, and their onset rate (``None`` where not recorded)."""

    def pick(value: Any) -> float | None:
        if isinstance(value, Mapping):
            value = value.get(trigger)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    generation = metrics.get("generation") or {}
    return {
        "bits": pick(metrics.get("test_bits_per_trigger")),
        "unigram": pick(metrics.get("unigram_bits_per_sample")),
        "recall": pick(generation.get("recall")),
        "onset_rate": pick(generation.get("onset_rate")),
    }


def card_facts(entry: Entry, model: Any) -> dict[str, Any]:
    """Everything a card says about ``entry``, whose loaded model is ``model``; plain JSON-able values."""
    from asmr_zoo.checkpoints import read_metadata, weights_step

    meta = read_metadata(entry.path)
    train = metadata_json(meta, "extra.train")
    data = metadata_json(meta, "extra.data")
    metrics = entry.metrics
    generation = metrics.get("generation") or {}
    receptive = getattr(model, "receptive_field", None)
    window = entry.config.get("window")
    facts: dict[str, Any] = {
        "id": entry.id,
        "description": entry.description,
        "model": entry.model,
        "conditioner": entry.conditioner,
        "codec": entry.codec,
        "classes": f"{model.codec.heads} x {model.codec.classes}",
        "sample_rate": entry.sample_rate,
        "triggers": list(entry.triggers),
        "parameters": sum(p.numel() for p in model.parameters()),
        "receptive_field": receptive,
        "receptive_ms": None if receptive is None else round(1000 * receptive / entry.sample_rate, 1),
        "window": window,
        "window_ms": round(1000 * window / entry.sample_rate, 1) if isinstance(window, int) else None,
        "config": dict(sorted(entry.config.items())),
        "weights": {"file": entry.path.name, "size": entry.size, "sha256": entry.sha256},
        "data": {
            "source": entry.data.get("source") or ", ".join(data.get("origins", [])) or "not recorded",
            "command": entry.data.get("command"),
            "split": entry.data.get("split"),
            "videos": data.get("videos"),
            "minutes": round(sum((data.get("minutes") or {}).values()), 2) or None,
        },
        "steps": train.get("steps"),
        "weights_step": weights_step(meta),
        "keep_best": bool(train.get("keep_best")),
        "train": {k: train[k] for k in ("batch_size", "lr", "seed", "threads") if k in train},
        "training_time": metadata_json(meta, "extra.metrics").get("train_seconds"),  # seconds, all runs
        "metrics": {
            "bits": metrics.get("test_bits_per_sample"),
            "uniform": metrics.get("uniform_bits_per_sample"),
            "own_label_wins": metrics.get("own_label_wins"),
            "recognised": generation.get("recognised"),
            "min_recall": generation.get("min_recall"),
            "collapsed": generation.get("collapsed"),
            "clips": generation.get("clips_per_trigger"),
            "seconds": generation.get("seconds"),
            "corpus": generation.get("data"),
        },
        "per_trigger": {t: per_trigger(metrics, t) for t in entry.triggers},
        "license": entry.license or "not stated",
        "intended_use": INTENDED_USE,
    }
    facts["limitations"] = limitations(facts)
    return facts


def limitations(facts: Mapping[str, Any]) -> list[str]:
    """What the measured facts say the checkpoint cannot do."""
    out = []
    if facts["data"]["source"] == "synthetic":
        out.append(
            "Trained on the procedural, license-free demo corpus (asmr-zoo data synth), not on recordings: it "
            "imitates synthetic triggers, and real ASMR audio is out of its distribution."
        )
    if facts["receptive_field"] is not None:
        out.append(
            f"Each sample sees only the previous {facts['receptive_field']} samples ({facts['receptive_ms']} ms) "
            f"and the conditioning: rhythm slower than that has to come from the conditioning."
        )
    elif facts["window_ms"] is not None:
        out.append(
            f"Trained on windows of {facts['window']} samples ({facts['window_ms']} ms): structure longer than that "
            f"was never seen in training."
        )
    never = [t for t, m in facts["per_trigger"].items() if m["recall"] == 0]
    if never:
        out.append(f"Generated clips of {', '.join(never)} were not recognised as that trigger by the classifier.")
    metrics = facts["metrics"]
    collapsed = metrics["collapsed"]
    if isinstance(collapsed, (int, float)) and collapsed > 0:
        length = f"{fmt(metrics['seconds'], 'g')} s " if metrics["seconds"] is not None else ""
        out.append(f"{collapsed:.0%} of its {length}generated clips collapsed to silence.")
    corpus = metrics["corpus"] or f"source: {facts['data']['source']}"
    out.append(
        f"The quality figures come from a trigger classifier and signal statistics on held-out data ({corpus}), "
        "not from listeners."
    )
    return out


def render_card(facts: Mapping[str, Any], kind: str = "md") -> str:
    """The card as Markdown (``kind="md"``) or as a standalone HTML page (``kind="html"``)."""
    from asmr_zoo import __version__

    return templates().get_template(f"card.{kind}.j2").render(card=facts, version=__version__)


def model_card(entry: Entry, zoo: Any = None) -> str:
    """The Markdown card of a registered checkpoint (loads it, sha256-checked)."""
    return render_card(card_facts(entry, entry.load(zoo)))
