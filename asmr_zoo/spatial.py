"""Stereo statistics: interaural level and time differences, coherence, side/mid; per clip, per frame, per set.

Audio is ``(2, samples)``: left, right. Signs point right, like the azimuths of :mod:`asmr_zoo.spatialize`:

- ILD (dB, per band) = 10 log10(E_right / E_left): positive when the right channel is louder;
- ITD (microseconds) = t_left - t_right: positive when the sound reaches the right ear first.

Frames are ``FRAME_SECONDS`` long (Hann window) every ``HOP_SECONDS``, the same duration at every rate. A frame
counts (``active``) when it is above an absolute floor and not far below the clip's loud frames; clip-level
figures pool the active frames. A band wholly above the Nyquist frequency is not measured (None per clip, NaN
per frame); the top band ends at Nyquist. Sets of clips pool their active frames clip by clip, keeping a seeded
uniform sample of at most ``POOL_FRAMES`` of them (memory stays bounded on large sets). Two sets are compared
statistic by statistic, as 1-D distributions of their frames: free-running samples have no paired ground truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from asmr_zoo.errors import DataError

BANDS: dict[str, tuple[float, float]] = {"low": (100.0, 500.0), "mid": (500.0, 2000.0), "high": (2000.0, 8000.0)}
MAX_ITD_S = 800e-6  # physically plausible lags: a head's largest ITD is about 650-700 us
FRAME_SECONDS = 0.04
HOP_SECONDS = 0.02
UPSAMPLE = 8  # GCC-PHAT peak search on an 8x finer lag grid, then a parabola through the peak
ACTIVE_FLOOR_DB = -60.0  # frames quieter than this (RMS, dBFS) are silence ...
ACTIVE_BELOW_LOUD_DB = 40.0  # ... and so are frames this far under the clip's loud (95th percentile) frames
DUAL_MONO_DB = -40.0  # side/mid at or under this: the channels are one signal (mono forced to two channels)
ANTI_PHASE_CORRELATION = -0.5  # zero-lag correlation at or under this: one channel is (nearly) the other inverted
DB_LIMIT = 100.0  # level ratios are bounded to +-100 dB (a silent channel)
PHAT_FLOOR = 1e-6  # cross-spectrum bins this far under the strongest one carry no phase (GCC-PHAT weight 0)
CHUNK = 256  # frames analysed at once: bounds the memory of long clips and of the upsampled correlations
POOL_FRAMES = 20_000  # frames a pooled set keeps per statistic: a uniform sample of its active frames
ILD_STATISTICS = {"ild_db": "broadband", **{f"ild_{band}_db": band for band in BANDS}}
STATISTICS = (*ILD_STATISTICS, "itd_us", "coherence", "correlation", "side_mid_db")


@dataclass(frozen=True)
class Trajectory:
    """Per-frame statistics of one clip; ``ild_db`` holds ``broadband`` and one entry per band (NaN: a band
    wholly above the Nyquist frequency, not measured)."""

    times: np.ndarray  # frame centres, seconds
    ild_db: dict[str, np.ndarray]
    itd_us: np.ndarray
    coherence: np.ndarray
    correlation: np.ndarray
    side_mid_db: np.ndarray
    active: np.ndarray  # bool: frames above the silence thresholds

    def values(self, statistic: str) -> np.ndarray:
        """The active frames' values of one of ``STATISTICS``."""
        if statistic in ILD_STATISTICS:
            return self.ild_db[ILD_STATISTICS[statistic]][self.active]
        return getattr(self, statistic)[self.active]


@dataclass(frozen=True)
class ClipStats:
    """One clip's spatial summary, pooled over its active frames."""

    sample_rate: int
    seconds: float
    ild_db: dict[str, float | None]  # broadband and per band; None: the band lies above Nyquist (not measured)
    itd_us: float
    coherence: float  # 0..1
    correlation: float  # -1..1, at zero lag
    side_mid_db: float
    dual_mono: bool
    anti_phase: bool
    silent: bool  # no active frame: the figures above are not meaningful


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyse` measures in one clip: its summary and its per-frame trajectories."""

    clip: ClipStats
    frames: Trajectory


def _db_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """10 log10(num / den) of energies, bounded to +-DB_LIMIT (0 dB when both are zero)."""
    eps = 10 ** (-DB_LIMIT / 10) * (num + den) + 1e-30
    return 10 * np.log10((num + eps) / (den + eps))


def _stereo(audio: np.ndarray) -> np.ndarray:
    """``audio`` as an array, checked to be ``(2, samples)`` with at least one sample (DataError otherwise)."""
    audio = np.asarray(audio)  # the framing copies it into float64 once
    if audio.ndim != 2 or audio.shape[0] != 2:
        raise DataError(f"spatial statistics need (2, samples) stereo audio, got shape {audio.shape}")
    if audio.shape[1] == 0:
        raise DataError("spatial statistics need at least one sample")
    return audio


def _frames(audio: np.ndarray, rate: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The frames in chunks of ``CHUNK``, each a ``(2, frames, frame)`` view of the zero-padded audio (no copy),
    the frames' centre times, and the Hann window to apply."""
    frame = max(16, round(FRAME_SECONDS * rate))
    hop = max(1, round(HOP_SECONDS * rate))
    n = audio.shape[1]
    count = 1 + max(0, -(-(n - frame) // hop))
    padded = np.zeros((2, (count - 1) * hop + frame))
    padded[:, :n] = audio
    window = np.hanning(frame)
    starts = hop * np.arange(count)
    views = np.lib.stride_tricks.sliding_window_view(padded, frame, axis=-1)[:, ::hop]
    chunks = [views[:, i : i + CHUNK] for i in range(0, count, CHUNK)]
    return chunks, (starts + frame / 2) / rate, window


def _gcc_phat_lag(cross: np.ndarray, n_fft: int, rate: int) -> np.ndarray:
    """GCC-PHAT (Knapp & Carter 1976): the lag maximising the inverse transform of the phase-only cross-spectrum
    X_L X_R* / |X_L X_R*|, searched within +-MAX_ITD_S on an UPSAMPLE-times finer grid (zero-padded inverse FFT)
    and refined by a parabola through the peak and its neighbours. ``cross`` is ``(..., bins)``; returns seconds."""
    magnitude = np.abs(cross)
    strong = magnitude > PHAT_FLOOR * magnitude.max(axis=-1, keepdims=True)
    weighted = np.where(strong, cross / np.where(strong, magnitude, 1.0), 0.0)
    fine = n_fft * UPSAMPLE
    limit = max(1, int(MAX_ITD_S * rate * UPSAMPLE))
    corr = np.fft.irfft(weighted, n=fine, axis=-1)
    window = np.concatenate([corr[..., -limit - 1 :], corr[..., : limit + 2]], axis=-1)  # lags -limit-1..limit+1
    peak = 1 + np.argmax(window[..., 1:-1], axis=-1)
    y0, y1, y2 = (np.take_along_axis(window, (peak + d)[..., None], axis=-1)[..., 0] for d in (-1, 0, 1))
    curvature = y0 - 2 * y1 + y2
    offset = np.where(curvature < 0, 0.5 * (y0 - y2) / np.where(curvature < 0, curvature, -1.0), 0.0)
    lag = (peak - limit - 1 + np.clip(offset, -0.5, 0.5)) / (rate * UPSAMPLE)
    return np.where(strong.any(axis=-1), np.clip(lag, -MAX_ITD_S, MAX_ITD_S), 0.0)


def _coherence(cross: np.ndarray, n_fft: int, rate: int, norm: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Inter-channel coherence as in binaural cue coding (Faller & Baumgarte 2003): the largest magnitude of the
    normalised cross-correlation over lags within +-MAX_ITD_S, taken over the whole-sample lags and the
    GCC-PHAT lag ``lag`` (seconds; a fractional delay peaks between samples). ``cross`` is ``(..., bins)``."""
    limit = max(1, int(MAX_ITD_S * rate))
    corr = np.fft.irfft(cross, n=n_fft, axis=-1)
    whole = np.abs(np.concatenate([corr[..., -limit:], corr[..., : limit + 1]], axis=-1)).max(axis=-1)
    weights = np.full(cross.shape[-1], 2.0)  # the one-sided spectrum counts every bin but DC and Nyquist twice
    weights[[0, -1]] = 1.0
    phase = np.exp(2j * np.pi * np.arange(cross.shape[-1]) * (np.asarray(lag) * rate)[..., None] / n_fft)
    at_lag = np.abs((weights * (cross * phase).real).sum(axis=-1)) / n_fft
    return np.clip(np.maximum(whole, at_lag) / np.maximum(norm, 1e-30), 0.0, 1.0)


def analyse(audio: np.ndarray, rate: int) -> Analysis:
    """Per-frame trajectories and the clip summary of ``(2, samples)`` audio at ``rate`` Hz.

    Two passes over chunks of frames (memory stays bounded for long clips): the frame levels decide which
    frames are active, then the statistics are computed per frame and summed over the active ones."""
    audio = _stereo(audio)
    chunks, times, window = _frames(audio, rate)
    n_fft = 1 << int(np.ceil(np.log2(2 * len(window))))  # zero-padded: linear, not circular, correlation
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    masks = {name: (freqs >= lo) & (freqs < min(hi, rate / 2)) for name, (lo, hi) in BANDS.items()}
    bands = {"broadband": np.ones_like(freqs, dtype=bool)} | {name: m for name, m in masks.items() if m.any()}
    unmeasured = [name for name in masks if name not in bands]  # wholly above Nyquist: no bin to measure

    energy = np.concatenate([((chunk * window) ** 2).sum(axis=(0, 2)) for chunk in chunks])
    rms = np.sqrt(energy / (2 * (window**2).sum()))  # of each frame, undoing the window
    loud = np.percentile(rms, 95)
    active = (rms > 10 ** (ACTIVE_FLOOR_DB / 20)) & (rms > loud * 10 ** (-ACTIVE_BELOW_LOUD_DB / 20))
    use = active if active.any() else np.ones_like(active)

    per_frame: dict[str, list[np.ndarray]] = {k: [] for k in ("itd", "coherence", "correlation", "side_mid")}
    band_energy: dict[str, list[np.ndarray]] = {f"{ear}{name}": [] for ear in "lr" for name in bands}
    total = {"cross": np.zeros(len(freqs), complex), "l": 0.0, "r": 0.0, "dot": 0.0, "mid": 0.0, "side": 0.0}
    first = 0
    for chunk in chunks:
        framed = chunk * window
        taken = use[first : first + framed.shape[1]]
        first += framed.shape[1]
        left, right = np.fft.rfft(framed, n=n_fft, axis=-1)
        cross = left * np.conj(right)
        energy_l, energy_r = (framed**2).sum(axis=-1)
        dot = (framed[0] * framed[1]).sum(axis=-1)
        energy_mid = (((framed[0] + framed[1]) / 2) ** 2).sum(axis=-1)
        energy_side = (((framed[0] - framed[1]) / 2) ** 2).sum(axis=-1)
        norm = np.sqrt(energy_l * energy_r)
        itd = _gcc_phat_lag(cross, n_fft, rate)
        per_frame["itd"].append(itd)
        per_frame["coherence"].append(_coherence(cross, n_fft, rate, norm, itd))
        per_frame["correlation"].append(np.clip(dot / np.maximum(norm, 1e-30), -1.0, 1.0))
        per_frame["side_mid"].append(_db_ratio(energy_side, energy_mid))
        for name, mask in bands.items():
            band_energy[f"l{name}"].append((np.abs(left[:, mask]) ** 2).sum(axis=-1))
            band_energy[f"r{name}"].append((np.abs(right[:, mask]) ** 2).sum(axis=-1))
        total["cross"] += cross[taken].sum(axis=0)
        for key, values in (("l", energy_l), ("r", energy_r), ("dot", dot), ("mid", energy_mid), ("side", energy_side)):
            total[key] += float(values[taken].sum())
    joined = {k: np.concatenate(v) for k, v in (per_frame | band_energy).items()}
    ild_frames = {name: _db_ratio(joined[f"r{name}"], joined[f"l{name}"]) for name in bands}
    frames = Trajectory(
        times=times,
        ild_db=ild_frames | {name: np.full(len(times), np.nan) for name in unmeasured},
        itd_us=1e6 * joined["itd"],
        coherence=joined["coherence"],
        correlation=joined["correlation"],
        side_mid_db=joined["side_mid"],
        active=active,
    )

    total_norm = np.sqrt(total["l"] * total["r"])
    correlation = float(np.clip(total["dot"] / max(total_norm, 1e-30), -1.0, 1.0))
    side_mid = float(_db_ratio(total["side"], total["mid"]))
    clip_itd = _gcc_phat_lag(total["cross"], n_fft, rate)
    clip = ClipStats(
        sample_rate=int(rate),
        seconds=audio.shape[1] / rate,
        ild_db={
            **{n: float(_db_ratio(joined[f"r{n}"][use].sum(), joined[f"l{n}"][use].sum())) for n in bands},
            **dict.fromkeys(unmeasured),
        },
        itd_us=float(1e6 * clip_itd),
        coherence=float(_coherence(total["cross"], n_fft, rate, np.asarray(total_norm), clip_itd)),
        correlation=correlation,
        side_mid_db=side_mid,
        dual_mono=side_mid <= DUAL_MONO_DB,
        anti_phase=correlation <= ANTI_PHASE_CORRELATION,
        silent=not active.any(),
    )
    return Analysis(clip, frames)


@dataclass
class SpatialSet:
    """A pooled collection of analysed clips: per statistic a uniform sample of the active frames' values (all of
    them up to ``POOL_FRAMES``; unmeasured bands left out), the number of active frames, and clip-level counts."""

    values: dict[str, np.ndarray]
    frames: int  # active frames of the non-silent clips, sampled or not
    sample_rates: list[int]
    clips: int
    silent: int
    dual_mono: int
    anti_phase: int


class Pool:
    """Pools analysed clips one at a time, so a caller need not keep them: clip counts, and per statistic a
    uniform random sample of at most ``limit`` active frames (None: all), chosen by the smallest of a seeded
    random key per frame (the bottom-k sample of every frame seen so far)."""

    def __init__(self, limit: int | None = POOL_FRAMES, seed: int = 0) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"a pool keeps at least one frame per statistic, not {limit}")
        self.limit = limit
        self.rng = np.random.default_rng(seed)
        self.values: dict[str, np.ndarray] = {s: np.zeros(0) for s in STATISTICS}
        self.keys: dict[str, np.ndarray] = {s: np.zeros(0) for s in STATISTICS}
        self.rates: set[int] = set()
        self.frames = self.clips = self.silent = self.dual_mono = self.anti_phase = 0

    def add(self, analysis: Analysis) -> None:
        """Count one clip and sample its active frames (a silent clip only counts)."""
        clip = analysis.clip
        self.clips += 1
        self.rates.add(clip.sample_rate)
        if clip.silent:
            self.silent += 1
            return
        self.dual_mono += clip.dual_mono
        self.anti_phase += clip.anti_phase
        keys = self.rng.random(int(analysis.frames.active.sum()))
        self.frames += keys.size
        for s in STATISTICS:
            new = analysis.frames.values(s)
            measured = ~np.isnan(new)
            values = np.concatenate([self.values[s], new[measured]])
            order = np.concatenate([self.keys[s], keys[measured]])
            if self.limit is not None and values.size > self.limit:
                kept = np.argpartition(order, self.limit - 1)[: self.limit]
                values, order = values[kept], order[kept]
            self.values[s], self.keys[s] = values, order

    def result(self) -> SpatialSet:
        """The set pooled so far."""
        return SpatialSet(
            values=dict(self.values),
            frames=self.frames,
            sample_rates=sorted(self.rates),
            clips=self.clips,
            silent=self.silent,
            dual_mono=self.dual_mono,
            anti_phase=self.anti_phase,
        )


def pool(analyses: Iterable[Analysis], limit: int | None = POOL_FRAMES, seed: int = 0) -> SpatialSet:
    """Pool the active frames of the non-silent clips of ``analyses`` (see :class:`Pool`)."""
    pooled = Pool(limit, seed)
    for analysis in analyses:
        pooled.add(analysis)
    return pooled.result()


def describe(spatial: SpatialSet) -> dict[str, Any]:
    """A JSON-ready summary: clip counts and shares, the active frames (``frames``) and how many of them the
    figures rest on (``sampled_frames``), and mean / std / 5th / 50th / 95th percentile per statistic (None for
    a statistic without values: a band above Nyquist, or a set without active frames)."""
    heard = spatial.clips - spatial.silent

    def summary(values: np.ndarray) -> dict[str, float] | None:
        if values.size == 0:
            return None
        p05, p50, p95 = np.percentile(values, [5, 50, 95])
        stats = {"mean": values.mean(), "std": values.std(), "p05": p05, "median": p50, "p95": p95}
        return {k: round(float(v), 3) for k, v in stats.items()}

    return {
        "clips": spatial.clips,
        "silent_clips": spatial.silent,
        "sample_rates": spatial.sample_rates,
        "frames": spatial.frames,
        "sampled_frames": int(spatial.values["itd_us"].size),
        "dual_mono_share": round(spatial.dual_mono / heard, 3) if heard else None,
        "anti_phase_share": round(spatial.anti_phase / heard, 3) if heard else None,
        **{s: summary(spatial.values[s]) for s in STATISTICS},
    }


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """First Wasserstein (earth mover's) distance of two 1-D samples: the integral of |F_a - F_b| (the area
    between the empirical CDFs), in the statistic's unit."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    points = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, points[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, points[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(points)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs (0..1)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    points = np.concatenate([a, b])
    gap = np.searchsorted(a, points, side="right") / a.size - np.searchsorted(b, points, side="right") / b.size
    return float(np.abs(gap).max())


def set_distances(a: SpatialSet, b: SpatialSet) -> dict[str, dict[str, float]]:
    """Per statistic measured in both sets, the Wasserstein distance and KS statistic between their frame
    distributions (bands above Nyquist are left out).

    Both sets must be measured at one and the same sample rate: the top band and the lag resolution depend on it."""
    if len(a.sample_rates) != 1 or a.sample_rates != b.sample_rates:
        raise DataError(
            f"spatial statistics at {_rates(a)} cannot be compared with ones at {_rates(b)}; resample to one rate "
            f"first (e.g. build the data set with `--sample-rate` equal to the model's and `--channels 2`)"
        )
    for name, spatial in (("first", a), ("second", b)):
        if spatial.values["itd_us"].size == 0:
            raise DataError(f"the {name} set has no active stereo frames to compare (silent or empty)")
    return {
        s: {
            "wasserstein": round(wasserstein_1d(a.values[s], b.values[s]), 4),
            "ks": round(ks_statistic(a.values[s], b.values[s]), 4),
        }
        for s in STATISTICS
        if a.values[s].size and b.values[s].size  # a band above Nyquist is not measured
    }


def _rates(spatial: SpatialSet) -> str:
    """The set's sample rates in words, for messages."""
    return " and ".join(f"{r} Hz" for r in spatial.sample_rates) or "no rate (an empty set)"
