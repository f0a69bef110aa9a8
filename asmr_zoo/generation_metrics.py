"""Generation-level metrics: is a generated clip the trigger it was asked for, and does it sound alive?

Held-out NLL says how well a model predicts real audio one sample ahead; it does not say what free-running
generation sounds like. These metrics measure the audio itself:

- a trigger classifier (log-mel statistics, spectral centroid and flatness, RMS-envelope modulation, onset
  rate; standardised, multinomial logistic regression) trained on a data set's train split, scored on its
  held-out real clips and on generated clips: accuracy, per-trigger recall, confusion;
- onset rate (taps per second) and envelope modulation (how much the loudness moves) against real;
- collapse: the later part of a clip 20 dB or more below its start, or the whole clip near silent;
- spectral flatness (1 = white noise) against real.

All of it works on numpy float audio at any rate (resampled to ``FEATURE_RATE``); nothing imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from asmr_zoo.errors import DataError

FEATURE_RATE = 16000
N_FFT, HOP, N_MELS = 512, 160, 40  # 32 ms frames every 10 ms
CLASSIFIER_WINDOW = 2.0  # seconds per classified window; a clip's label is the mean over its windows
COLLAPSE_DB = -20.0  # later part this far below the start: collapsed
SILENT_DBFS = -60.0  # a whole clip below this RMS: silent (counted as collapsed)
MIN_COLLAPSE_SECONDS = 10.0  # collapse is measured on clips at least this long
MODULATION_BANDS = ((0.5, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 32.0))  # Hz of the envelope


def _prepare(wav: np.ndarray, rate: int) -> np.ndarray:
    from asmr_zoo.audio import resample

    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    if not np.isfinite(wav).all():
        raise DataError("audio for the metrics contains NaN or infinite samples")
    if rate != FEATURE_RATE:
        wav = resample(wav[None], rate, FEATURE_RATE)[0]
    if len(wav) < N_FFT:
        wav = np.pad(wav, (0, N_FFT - len(wav)))
    return wav


def _power_spectrogram(wav: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """``(frames, n_fft // 2 + 1)`` power of Hann-windowed frames (``wav`` has at least ``n_fft`` samples)."""
    frames = np.lib.stride_tricks.sliding_window_view(wav, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2


def log_spectrogram(wav: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """dB power (0 dB: a full-scale sine) of Hann frames, ``(bins, frames)``, for pictures; a clip shorter
    than ``n_fft`` is padded with silence."""
    wav = np.asarray(wav, dtype=np.float64).reshape(-1)
    wav = np.pad(wav, (0, max(0, n_fft - len(wav))))
    power = _power_spectrogram(wav, n_fft, hop) / (n_fft / 4) ** 2
    return 10 * np.log10(power + 1e-12).T


def _mel_filters() -> np.ndarray:
    """Triangular HTK-mel filters ``(N_MELS, N_FFT // 2 + 1)`` from 20 Hz to Nyquist."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    bins = np.linspace(0, FEATURE_RATE / 2, N_FFT // 2 + 1)
    edges = hz(np.linspace(mel(20.0), mel(FEATURE_RATE / 2), N_MELS + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))


MEL = _mel_filters()


@dataclass
class Analysis:
    """Frame-level views of one clip at ``FEATURE_RATE``."""

    wav: np.ndarray
    power: np.ndarray  # (frames, bins)
    log_mel: np.ndarray  # (frames, N_MELS), dB
    rms_db: np.ndarray  # (frames,), dBFS

    @classmethod
    def of(cls, wav: np.ndarray, rate: int) -> Analysis:
        wav = _prepare(wav, rate)
        power = _power_spectrogram(wav)
        log_mel = 10 * np.log10(power @ MEL.T + 1e-10)
        frames = np.lib.stride_tricks.sliding_window_view(wav, N_FFT)[::HOP]
        rms_db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
        return cls(wav, power, log_mel, rms_db)


def onset_rate(a: Analysis) -> float:
    """Onsets per second: peaks of the band-averaged log-mel rise over 20 ms, above 3 dB and well above the
    clip's typical rise (median + 4 MAD), where the overall level rises too and is above the noise floor,
    at least 50 ms apart. Stationary noise has (almost) none."""
    rise = np.maximum(a.log_mel[2:] - a.log_mel[:-2], 0).mean(axis=1)
    if len(rise) < 3:
        return 0.0
    median = np.median(rise)
    threshold = max(3.0, median + 4 * np.median(np.abs(rise - median)))
    louder = (a.rms_db[2:] - a.rms_db[:-2] > 1.0) & (a.rms_db[2:] > a.rms_db.max() - 45)
    rise = np.where(louder, rise, 0.0)  # spectral change without a rise in level (or in the floor) is no onset
    peaks, last = 0, -(10**9)
    for i in range(1, len(rise) - 1):
        if rise[i] > threshold and rise[i] >= rise[i - 1] and rise[i] > rise[i + 1] and i - last >= 5:
            peaks, last = peaks + 1, i
    return peaks / (len(a.wav) / FEATURE_RATE)


def envelope_modulation(a: Analysis) -> np.ndarray:
    """Share of the RMS envelope's variance in each of ``MODULATION_BANDS`` (Hz), then its coefficient of
    variation (std / mean of the linear RMS envelope): how much and how fast the loudness moves."""
    env = np.sqrt(10 ** (a.rms_db / 10))
    cv = float(env.std() / (env.mean() + 1e-12))
    spectrum = np.abs(np.fft.rfft(env - env.mean())) ** 2
    freqs = np.fft.rfftfreq(len(env), HOP / FEATURE_RATE)
    total = spectrum[1:].sum() + 1e-20
    shares = [spectrum[(freqs >= lo) & (freqs < hi)].sum() / total for lo, hi in MODULATION_BANDS]
    return np.array([*shares, cv])


def flatness(a: Analysis) -> float:
    """Mean spectral flatness of the frames that carry sound (geometric / arithmetic mean power; 1 = white)."""
    loud = a.rms_db > a.rms_db.max() - 40
    power = a.power[loud] + 1e-12
    return float(np.mean(np.exp(np.log(power).mean(axis=1)) / power.mean(axis=1)))


def collapse_drop_db(a: Analysis) -> float:
    """Level of the second half of the clip relative to its first second, in dB (negative: it got quieter)."""
    wav = a.wav.astype(np.float64)
    first = wav[: min(FEATURE_RATE, len(wav) // 2)]
    later = wav[len(wav) // 2 :]
    return float(10 * np.log10((np.mean(later**2) + 1e-12) / (np.mean(first**2) + 1e-12)))


def is_collapsed(a: Analysis) -> bool:
    """Collapsed to silence: the later part 20 dB or more below the start, or the whole clip silent."""
    level = 10 * np.log10(np.mean(a.wav.astype(np.float64) ** 2) + 1e-12)
    return level < SILENT_DBFS or collapse_drop_db(a) <= COLLAPSE_DB


def features(wav: np.ndarray, rate: int) -> np.ndarray:
    """The classifier's features of one window (level-invariant: the window is RMS-normalised first)."""
    wav = _prepare(wav, rate)
    wav = wav / (np.sqrt(np.mean(wav.astype(np.float64) ** 2)) + 1e-8)
    a = Analysis.of(wav, FEATURE_RATE)
    freqs = np.linspace(0, FEATURE_RATE / 2, a.power.shape[1])
    centroid = (a.power @ freqs) / (a.power.sum(axis=1) + 1e-12) / 1000
    rel = a.rms_db - a.rms_db.max()
    return np.concatenate(
        [
            a.log_mel.mean(axis=0),
            a.log_mel.std(axis=0),
            [centroid.mean(), centroid.std(), np.log(flatness(a) + 1e-6)],
            np.percentile(rel, [10, 50, 90]),
            [rel.std()],
            envelope_modulation(a),
            [onset_rate(a)],
        ]
    )


def windows(wav: np.ndarray, rate: int, seconds: float = CLASSIFIER_WINDOW, hop: float | None = None) -> list:
    """Cut a clip into ``seconds``-long windows every ``hop`` seconds (the whole clip if it is shorter)."""
    size, step = int(seconds * rate), int((hop or seconds) * rate)
    wav = np.asarray(wav).reshape(-1)
    if len(wav) <= size:
        return [wav]
    return [wav[s : s + size] for s in range(0, len(wav) - size + 1, step)]


class TriggerClassifier:
    """Recognises triggers from audio: standardised features, multinomial logistic regression."""

    def __init__(self, clips: Sequence[tuple[str, np.ndarray]], rate: int) -> None:
        """Fit on ``(trigger, audio)`` training clips (cut into 2 s windows with a 1 s hop)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = [], []
        for trigger, wav in clips:
            for w in windows(wav, rate, hop=CLASSIFIER_WINDOW / 2):
                x.append(features(w, rate))
                y.append(trigger)
        if len(set(y)) < 2:
            raise DataError("the trigger classifier needs training clips of at least two triggers")
        self.rate = rate
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=5000))
        self.model.fit(np.array(x), np.array(y))
        self.classes: list[str] = [str(c) for c in self.model.classes_]

    def log_proba(self, wav: np.ndarray, rate: int) -> np.ndarray:
        """Mean log-probability of each class over the clip's windows."""
        x = np.array([features(w, rate) for w in windows(wav, rate)])
        return np.log(self.model.predict_proba(x) + 1e-12).mean(axis=0)

    def predict(self, wav: np.ndarray, rate: int) -> str:
        return self.classes[int(np.argmax(self.log_proba(wav, rate)))]


def recognition(classifier: TriggerClassifier, clips: Sequence[tuple[str, np.ndarray]], rate: int) -> dict[str, Any]:
    """Accuracy, per-trigger recall and the confusion (asked -> {predicted: count}) of ``clips``."""
    confusion: dict[str, dict[str, int]] = {}
    for trigger, wav in clips:
        predicted = classifier.predict(wav, rate)
        row = confusion.setdefault(trigger, {})
        row[predicted] = row.get(predicted, 0) + 1
    recall = {t: row.get(t, 0) / sum(row.values()) for t, row in confusion.items()}
    correct = sum(row.get(t, 0) for t, row in confusion.items())
    return {"accuracy": correct / max(1, len(clips)), "recall": recall, "confusion": confusion}


def audio_statistics(clips: Sequence[np.ndarray], rate: int) -> dict[str, Any]:
    """Median onset rate, envelope modulation (CV), flatness; collapse share where clips are >= 10 s."""
    analyses = [Analysis.of(c, rate) for c in clips]
    long = [a for a in analyses if len(a.wav) >= MIN_COLLAPSE_SECONDS * FEATURE_RATE]
    return {
        "clips": len(analyses),
        "onset_rate": float(np.median([onset_rate(a) for a in analyses])),
        "envelope_cv": float(np.median([envelope_modulation(a)[-1] for a in analyses])),
        "flatness": float(np.median([flatness(a) for a in analyses])),
        "collapsed": (sum(is_collapsed(a) for a in long) / len(long)) if long else None,
    }


def generation_report(
    train: Sequence[tuple[str, np.ndarray]],
    real: Sequence[tuple[str, np.ndarray]],
    generated: Sequence[tuple[str, np.ndarray]],
    rate: int,
) -> dict[str, Any]:
    """Everything above for ``generated`` clips against ``real`` held-out clips, with a classifier fitted on
    ``train``; each a list of ``(trigger, audio)`` at ``rate``. With fewer than two triggers to train on there
    is no classifier: recognition is ``None``."""
    known = {t for t, _ in train}
    classifier = TriggerClassifier(train, rate) if len(known) >= 2 else None
    unknown = sorted({t for t, _ in generated} - known)
    if classifier is not None and unknown:
        raise DataError(f"the classifier's training data has no clips of {', '.join(unknown)}")
    gen_rec = recognition(classifier, generated, rate) if classifier else None
    per_trigger: dict[str, Any] = {}
    for trigger in sorted({t for t, _ in generated}):
        ref = [w for t, w in real if t == trigger]
        per_trigger[trigger] = {
            "recall": gen_rec["recall"][trigger] if gen_rec else None,
            "generated": audio_statistics([w for t, w in generated if t == trigger], rate),
            "real": audio_statistics(ref, rate) if ref else {},
        }
    collapsed = [r["generated"]["collapsed"] for r in per_trigger.values() if r["generated"]["collapsed"] is not None]
    return {
        "classifier_classes": classifier.classes if classifier else [],
        "real_accuracy": recognition(classifier, real, rate)["accuracy"] if classifier and real else None,
        "accuracy": gen_rec["accuracy"] if gen_rec else None,
        "confusion": gen_rec["confusion"] if gen_rec else None,
        "collapsed": float(np.mean(collapsed)) if collapsed else None,
        "triggers": per_trigger,
    }


def summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers a registry entry keeps from a ``generation_report``."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    recalls = [r["recall"] for r in report["triggers"].values() if r["recall"] is not None]
    return {
        "recognised": rounded(report["accuracy"]),
        "min_recall": rounded(min(recalls)) if recalls else None,
        "real_recognised": rounded(report["real_accuracy"]),
        "collapsed": rounded(report["collapsed"]),
        "clips_per_trigger": report.get("clips_per_trigger"),
        "seconds": report.get("seconds"),
    }
