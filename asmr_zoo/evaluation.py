"""Measured evaluation: held-out NLL per trigger, own vs swapped labels, generation metrics, embedding MDS."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.interfaces import Model

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Progress = Callable[[str, int, int], None]  # (stage, done, total)
SWAP_WINDOWS = 4  # held-out windows per trigger scored under every other label


def audio_clips(rows: Sequence[Any], rate: int) -> list[tuple[str, np.ndarray]]:
    """``(trigger, mono audio)`` of data-set rows, resampled to ``rate``."""
    from asmr_zoo.audio import read_audio, resample, to_mono

    out = []
    for row in rows:
        audio, row_rate = read_audio(row.path)
        out.append((row.trigger, to_mono(resample(audio, row_rate, rate))[0]))
    return out


def _pieces(clips: Sequence[tuple[str, np.ndarray]], length: int) -> list[tuple[str, np.ndarray]]:
    """Cut real clips into pieces of ``length`` samples (a shorter clip stays whole)."""
    return [(t, w[s : s + length]) for t, w in clips for s in range(0, max(1, len(w) - length + 1), length)]


def generate_clips(
    model: Model, triggers: Sequence[str], clips: int, seconds: float, seed: int, progress: Progress | None = None
) -> list[tuple[str, np.ndarray]]:
    """``clips`` clips of ``seconds`` per trigger, through the path `asmr-zoo run` takes (default sampler,
    default engine and weights); ``triggers`` are ignored by unconditioned models but label the clips."""
    from asmr_zoo.sampling import AncestralSampler

    asked = [t for t in triggers for _ in range(clips)]
    sampler = AncestralSampler(seed=seed, batch=len(asked))
    cond = model.conditioner.encode(asked) if model.conditioner.conditioned else None
    num_samples = max(1, round(seconds * model.sample_rate))
    report = None if progress is None else (lambda done, total: progress("generating", done, total))
    wav = sampler.generate(model, num_samples, cond, report)
    return list(zip(asked, wav.float().numpy(), strict=True))


def check_generation(clips: int, seconds: float, triggers: int = 1) -> None:
    """One line if ``clips`` clips of ``seconds`` for each of ``triggers`` triggers is no generation to score."""
    from asmr_zoo.api import MAX_BATCH, MAX_SECONDS
    from asmr_zoo.generation_metrics import FEATURE_RATE, N_FFT

    if not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS:
        raise UsageError(f"--seconds must be a positive number of at most {MAX_SECONDS:g}, got {seconds}")
    if clips < 0:
        raise UsageError(f"--clips must be >= 0 (0 skips the generation metrics), got {clips}")
    shortest = N_FFT / FEATURE_RATE
    if clips and seconds < shortest:  # the metrics' real clips are cut to this length: 1-sample pieces by the 100,000
        raise UsageError(
            f"--seconds {seconds:g} is shorter than one {1000 * shortest:g} ms frame of the generation metrics: "
            f"use at least {shortest:g}, or --clips 0"
        )
    if clips * triggers > MAX_BATCH:
        raise UsageError(
            f"--clips {clips} for each of {triggers} triggers makes {clips * triggers} clips in one "
            f"batch, more than {MAX_BATCH}: lower --clips to at most {MAX_BATCH // triggers}"
        )


def evaluate(
    model: Model,
    data_dir: Path,
    triggers: Sequence[str] = (),
    clips: int = 4,
    seconds: float = 10.0,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score ``model`` on the held-out videos of ``data_dir`` (see ``asmr-zoo eval --help``): held-out NLL,
    and, unless ``clips`` is 0, the generation metrics of ``clips`` generated clips of ``seconds`` per trigger."""
    from asmr_zoo import generation_metrics
    from asmr_zoo.dataset import read_dataset
    from asmr_zoo.training import bits_per_sample, held_out_windows, load_clips, unigram_bits

    check_generation(clips, seconds)
    rows = read_dataset(data_dir)
    vocabulary = list(model.conditioner.vocabulary)
    wanted = set(triggers or vocabulary or {r.trigger for r in rows})
    test_rows = [r for r in rows if r.split == "test" and r.trigger in wanted]
    if not test_rows:
        raise DataError(f"{data_dir} has no held-out (test) rows for {', '.join(sorted(wanted))}")
    check_generation(clips, seconds, len({r.trigger for r in test_rows}))
    train_rows = [r for r in rows if r.split == "train" and r.trigger in wanted]
    test_clips = load_clips(test_rows, model.codec, model.sample_rate)
    train_clips = load_clips(train_rows, model.codec, model.sample_rate) or test_clips
    windows = held_out_windows(test_clips, model.config.window, per_trigger=16)
    scored = sorted(windows)
    model.eval()
    report: dict[str, Any] = {"uniform_bits": 8.0 * model.codec.heads, "triggers": {}}
    for i, trigger in enumerate(scored):
        if progress is not None:
            progress("held-out NLL", i, len(scored))
        own = bits_per_sample(model, windows[trigger], trigger if vocabulary else None)
        row: dict[str, Any] = {
            "bits": own,
            "unigram_bits": unigram_bits(
                [c for c in train_clips if c.trigger == trigger] or train_clips,
                [c for c in test_clips if c.trigger == trigger],
                model.codec.classes,
            ),
        }
        if len(vocabulary) > 1:  # own vs swapped labels, on the first SWAP_WINDOWS windows (11 x 11 passes)
            subset = windows[trigger][:SWAP_WINDOWS]
            swapped = {t: bits_per_sample(model, subset, t) for t in vocabulary if t != trigger}
            best = min(swapped, key=swapped.get)
            row.update(
                own_subset_bits=bits_per_sample(model, subset, trigger),
                swapped_bits=swapped,
                best_swapped_trigger=best,
                best_swapped_bits=swapped[best],
            )
        report["triggers"][trigger] = row
    report["mean_bits"] = sum(r["bits"] for r in report["triggers"].values()) / len(scored)
    if len(vocabulary) > 1:
        report["own_label_wins"] = sum(
            r["own_subset_bits"] < r["best_swapped_bits"] for r in report["triggers"].values()
        )
    if clips:
        rate = model.sample_rate
        # The classifier knows every trigger of the data set, so one served trigger is still one of many.
        classifier_train = audio_clips([r for r in rows if r.split == "train"], rate)
        real = _pieces(audio_clips(test_rows, rate), max(1, round(seconds * rate)))
        generated = generate_clips(model, scored, clips, seconds, seed, progress)
        if progress is not None:
            progress("scoring clips", 0, 1)
        gen = generation_metrics.generation_report(classifier_train, real, generated, rate)
        gen.update(clips_per_trigger=clips, seconds=seconds, seed=seed)
        report["generation"] = gen
    return report


def classical_mds(points: np.ndarray, dims: int = 2) -> np.ndarray:
    """Classical (Torgerson) multidimensional scaling of ``points`` by their Euclidean distances."""
    sq = np.square(points[:, None, :] - points[None, :, :]).sum(-1)
    n = len(points)
    centre = np.eye(n) - np.ones((n, n)) / n
    gram = -0.5 * centre @ sq @ centre
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:dims]
    return vectors[:, order] * np.sqrt(np.maximum(values[order], 0))


def embedding_figure(model: Model, checkpoint_id: str, step: int | None = None) -> Figure:
    """The paper's Figure 8 as a matplotlib ``Figure``: the learned trigger embeddings in 2-D by multidimensional
    scaling, one colour per technique, with a legend; the title names the checkpoint and its training step."""
    emb = model.trigger_embeddings()
    vocabulary = list(model.conditioner.vocabulary)
    if emb is None or len(vocabulary) < 2:
        raise UsageError(f"{model.name}/{model.conditioner.name} has no trigger embeddings to plot")
    import matplotlib
    from matplotlib.figure import Figure

    from asmr_zoo.triggers import split_trigger

    xy = classical_mds(emb.detach().float().numpy())
    if not np.isfinite(xy).all():
        raise DataError("the trigger embeddings contain NaN or infinite values")
    fig = Figure(figsize=(7, 5))  # not pyplot: no global figure manager, the process's backend is untouched
    ax = fig.subplots()
    techniques = [split_trigger(t)[0] for t in vocabulary]
    colours = matplotlib.colormaps["tab10"]
    for i, name in enumerate(sorted(set(techniques))):
        rows = [j for j, t in enumerate(techniques) if t == name]
        ax.scatter(xy[rows, 0], xy[rows, 1], color=colours(i % 10), label=name, s=40)
    for (x, y), name in zip(xy, vocabulary, strict=True):
        ax.annotate(name, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
    trained = "step unknown" if step is None else f"step {step}"
    ax.set_title(f"{checkpoint_id} ({model.name} / {model.conditioner.name}, {trained}): trigger embeddings (MDS)")
    ax.title.set_fontsize(9)
    ax.legend(title="technique", fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.margins(0.12)
    ax.set_xlabel("MDS 1")
    ax.set_ylabel("MDS 2")
    fig.tight_layout()
    return fig


def plot_embeddings(model: Model, path: Path, checkpoint_id: str, step: int | None = None) -> None:
    """Write ``embedding_figure`` as a PNG (atomically)."""
    from asmr_zoo.checkpoints import atomic_write

    fig = embedding_figure(model, checkpoint_id, step)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
