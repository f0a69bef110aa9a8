"""Segment processing: trim silence, enforce a minimum length, normalise loudness, derive the training copy.

The master keeps the source's channels and rate; the training copy is an explicit mono downmix at the
model's rate (soxr), or with ``channels=2`` a stereo copy (a mono source duplicated into both channels). Both
are normalised on their own so the codec's range is used: gain towards an RMS target (over all channels, so
level differences between them stay), capped so the peak stays under a ceiling (no clipping, ever).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asmr_zoo.audio import resample, to_mono
from asmr_zoo.dataset import SegmentAudio
from asmr_zoo.errors import DataError

TARGET_RMS_DB = -20.0
PEAK_CEILING_DB = -1.0
SILENCE_FLOOR_DB = -60.0  # absolute: quieter frames are silence
SILENCE_BELOW_LOUD_DB = 45.0  # relative: frames this far under the loud frames are silence
FRAME_SECONDS = 0.02
PAD_SECONDS = 0.05


@dataclass
class Processed:
    """A processed segment, or the reason it was dropped (``audio`` None, ``note`` set)."""

    start: float  # seconds in the source, after trimming
    end: float
    audio: SegmentAudio | None
    note: str = ""


def _db(x: float) -> float:
    return 20.0 * np.log10(max(x, 1e-12))


def silence_bounds(audio: np.ndarray, rate: int) -> tuple[int, int]:
    """Sample indices ``(first, last + 1)`` of the non-silent part of ``(channels, samples)`` audio;
    ``(0, 0)`` when it is all silence."""
    mono = np.abs(audio).max(axis=0) if audio.size else np.zeros(0, dtype=np.float32)
    frame = max(1, int(rate * FRAME_SECONDS))
    count = len(mono) // frame
    if count == 0:
        return (0, len(mono)) if mono.size and mono.max() > 10 ** (SILENCE_FLOOR_DB / 20) else (0, 0)
    frames = mono[: count * frame].reshape(count, frame).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = np.percentile(rms, 95)
    threshold = max(10 ** (SILENCE_FLOOR_DB / 20), loud * 10 ** (-SILENCE_BELOW_LOUD_DB / 20))
    active = np.flatnonzero(rms > threshold)
    if active.size == 0:
        return 0, 0
    pad = int(rate * PAD_SECONDS)
    first = max(0, active[0] * frame - pad)
    last = len(mono) if active[-1] == count - 1 else min(len(mono), (active[-1] + 1) * frame + pad)
    return int(first), int(last)


def normalise(audio: np.ndarray) -> np.ndarray:
    """Scale towards ``TARGET_RMS_DB``, never letting the peak exceed ``PEAK_CEILING_DB``."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak <= 0:
        return audio
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    gain = min(10 ** (TARGET_RMS_DB / 20) / rms, 10 ** (PEAK_CEILING_DB / 20) / peak)
    return (audio * gain).astype(np.float32)


def training_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """``(c, n)`` -> the training copy's channels: the mono downmix, or stereo (mono duplicated into both)."""
    if channels == 1:
        return to_mono(audio)
    if audio.shape[0] > 2:
        raise DataError(f"the source has {audio.shape[0]} channels; stereo training copies need a mono or stereo one")
    return np.repeat(audio, 2 // audio.shape[0], axis=0)


def process_segment(
    audio: np.ndarray,
    rate: int,
    start: float,
    sample_rate: int,
    min_seconds: float,
    keep_master: bool = True,
    channels: int = 1,
) -> Processed:
    """Trim, check the length, normalise; ``audio`` is the ``(channels, samples)`` master cut at ``start``;
    ``channels`` of the training copy: 1 or 2."""
    first, last = silence_bounds(audio, rate)
    if last <= first:
        return Processed(start, start + audio.shape[-1] / rate, None, "silent")
    trimmed = audio[:, first:last]
    begin, end = start + first / rate, start + last / rate
    if end - begin < min_seconds:
        return Processed(begin, end, None, f"shorter than {min_seconds:g} s after trimming silence")
    training = normalise(resample(training_channels(trimmed, channels), rate, sample_rate))
    master = normalise(trimmed) if keep_master else None
    return Processed(begin, end, SegmentAudio(training, sample_rate, master, rate if keep_master else None))
