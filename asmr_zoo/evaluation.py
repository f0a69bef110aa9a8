"""Measured evaluation: held-out NLL per trigger, own vs swapped labels, spectral statistics, embedding MDS."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.interfaces import Model

N_FFT, HOP, N_MELS = 1024, 256, 40


def mel_filterbank(sample_rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS) -> torch.Tensor:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` (HTK mel scale)."""

    def mel(f: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + f / 700)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700 * (10 ** (m / 2595) - 1)

    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = hz(np.linspace(mel(np.array(20.0)), mel(np.array(sample_rate / 2)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    filters = np.maximum(0, np.minimum((bins - lower) / (centre - lower), (upper - bins) / (upper - centre)))
    return torch.from_numpy(filters).float()


def spectral_stats(wav: torch.Tensor, sample_rate: int) -> dict[str, Any]:
    """Log-mel profile (dB per band), spectral centroid (Hz), flatness and onset rate (per second)."""
    wav = wav.float().flatten()
    if len(wav) < N_FFT:
        wav = torch.nn.functional.pad(wav, (0, N_FFT - len(wav)))
    spec = torch.stft(wav, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs() ** 2
    freqs = torch.linspace(0, sample_rate / 2, spec.shape[0])
    power = spec.sum(0) + 1e-10
    centroid = float(((freqs[:, None] * spec).sum(0) / power).mean())
    flatness = float((torch.exp(torch.log(spec + 1e-10).mean(0)) / (spec.mean(0) + 1e-10)).mean())
    log_mel = 10 * torch.log10(mel_filterbank(sample_rate) @ spec + 1e-10)
    flux = torch.relu(log_mel.diff(dim=1)).sum(0)  # rises in band energy
    threshold = flux.mean() + 2 * flux.std() if len(flux) > 1 else float("inf")
    peaks = [
        i for i in range(1, len(flux) - 1) if flux[i] > threshold and flux[i] >= flux[i - 1] and flux[i] > flux[i + 1]
    ]
    return {
        "log_mel_profile_db": log_mel.mean(1).tolist(),
        "centroid_hz": centroid,
        "flatness": flatness,
        "onset_rate": len(peaks) / (len(wav) / sample_rate),
    }


def compare_spectra(generated: torch.Tensor, real: torch.Tensor, sample_rate: int) -> dict[str, float]:
    gen, ref = spectral_stats(generated, sample_rate), spectral_stats(real, sample_rate)
    diff = np.array(gen["log_mel_profile_db"]) - np.array(ref["log_mel_profile_db"])
    return {
        "log_mel_distance_db": float(np.sqrt(np.mean(diff**2))),
        "centroid_hz_generated": gen["centroid_hz"],
        "centroid_hz_real": ref["centroid_hz"],
        "flatness_generated": gen["flatness"],
        "flatness_real": ref["flatness"],
        "onset_rate_generated": gen["onset_rate"],
        "onset_rate_real": ref["onset_rate"],
    }


def evaluate(
    model: Model, data_dir: Path, triggers: Sequence[str] = (), seconds: float = 1.0, seed: int = 0
) -> dict[str, Any]:
    """Score ``model`` on the held-out videos of ``data_dir`` (see ``asmr-zoo eval --help``)."""
    from asmr_zoo.dataset import read_dataset
    from asmr_zoo.sampling import AncestralSampler
    from asmr_zoo.training import bits_per_sample, held_out_windows, load_clips, unigram_bits

    if seconds <= 0:
        raise UsageError(f"--seconds must be > 0, got {seconds}")
    rows = read_dataset(data_dir)
    vocabulary = list(model.conditioner.vocabulary)
    wanted = set(triggers or vocabulary or {r.trigger for r in rows})
    test_rows = [r for r in rows if r.split == "test" and r.trigger in wanted]
    if not test_rows:
        raise DataError(f"{data_dir} has no held-out (test) rows for {', '.join(sorted(wanted))}")
    train_rows = [r for r in rows if r.split == "train" and r.trigger in wanted]
    test_clips = load_clips(test_rows, model.codec, model.sample_rate)
    train_clips = load_clips(train_rows, model.codec, model.sample_rate) or test_clips
    windows = held_out_windows(test_clips, model.config.window, per_trigger=16)
    scored = sorted(windows)
    model.eval()
    sampler = AncestralSampler(seed=seed, batch=len(scored))
    cond = model.conditioner.encode(scored)
    num_samples = max(1, round(seconds * model.sample_rate))
    generated = sampler.generate(model, num_samples, cond)
    report: dict[str, Any] = {"uniform_bits": 8.0 * model.codec.heads, "triggers": {}}
    for i, trigger in enumerate(scored):
        own = bits_per_sample(model, windows[trigger], trigger if vocabulary else None)
        row: dict[str, Any] = {
            "bits": own,
            "unigram_bits": unigram_bits(
                [c for c in train_clips if c.trigger == trigger] or train_clips,
                [c for c in test_clips if c.trigger == trigger],
                model.codec.classes,
            ),
        }
        if len(vocabulary) > 1:
            swapped = {t: bits_per_sample(model, windows[trigger], t) for t in vocabulary if t != trigger}
            best = min(swapped, key=swapped.get)
            row.update(swapped_bits=swapped, best_swapped_trigger=best, best_swapped_bits=swapped[best])
        real = torch.cat([model.codec.decode(c.codes) for c in test_clips if c.trigger == trigger])
        row["spectral"] = compare_spectra(generated[i], real, model.sample_rate)
        report["triggers"][trigger] = row
    report["mean_bits"] = sum(r["bits"] for r in report["triggers"].values()) / len(scored)
    if len(vocabulary) > 1:
        report["own_label_wins"] = sum(r["bits"] < r["best_swapped_bits"] for r in report["triggers"].values())
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


def plot_embeddings(model: Model, path: Path) -> None:
    """The paper's Figure 8: the learned trigger embeddings in 2-D by multidimensional scaling (PNG)."""
    emb = model.trigger_embeddings()
    if emb is None or len(model.conditioner.vocabulary) < 2:
        raise UsageError(f"{model.name}/{model.conditioner.name} has no trigger embeddings to plot")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UsageError("the embedding plot needs matplotlib: pip install 'asmr-zoo[plot]'") from exc
    from asmr_zoo.checkpoints import atomic_write

    xy = classical_mds(emb.detach().float().numpy())
    if not np.isfinite(xy).all():
        raise DataError("the trigger embeddings contain NaN or infinite values")
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(xy[:, 0], xy[:, 1])
    for (x, y), name in zip(xy, model.conditioner.vocabulary, strict=True):
        ax.annotate(name, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.set_title(f"{model.name} / {model.conditioner.name}: trigger embeddings (MDS)")
    ax.set_xlabel("MDS 1")
    ax.set_ylabel("MDS 2")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
