"""Audio I/O and resampling: soundfile for files, soxr for rates; arrays are float32 (channels, samples)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from asmr_zoo.errors import DataError


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Read a WAV/FLAC/OGG file as float32 ``(channels, samples)`` and its sample rate."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise DataError(f"audio file {path} does not exist")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError on corrupt files
        raise DataError(f"{path} is not a readable audio file ({' '.join(str(exc).split())})") from exc
    if data.shape[0] == 0:
        raise DataError(f"{path} contains no audio samples")
    if not np.isfinite(data).all():
        raise DataError(f"{path} contains NaN or infinite samples")
    return np.ascontiguousarray(data.T), int(rate)


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write ``(channels, samples)`` or ``(samples,)`` float audio atomically (temp file, then rename)."""
    import soundfile as sf

    from asmr_zoo.checkpoints import atomic_write

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if not np.isfinite(audio).all():
        raise DataError(f"refusing to write {path}: the audio has NaN or infinite samples")
    path = Path(path)
    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    clipped = np.clip(audio, -1.0, 1.0).T
    encoded = io.BytesIO()  # encoded in memory, written by Python: a full disk is an OSError, not libsndfile's
    try:  # "System error."
        sf.write(encoded, clipped, sample_rate, subtype=subtype, format=fmt)
    except RuntimeError as exc:  # sf.LibsndfileError: e.g. more channels than the format holds
        raise DataError(
            f"cannot write {path} as {fmt} ({audio.shape[0]} channels at {sample_rate} Hz): "
            f"{' '.join(str(exc).split()).split(': ')[-1]}"
        ) from None
    atomic_write(path, lambda tmp: tmp.write_bytes(encoded.getvalue()))


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample ``(channels, samples)`` audio with soxr (high quality)."""
    import soxr

    if rate_in == rate_out:
        return audio
    out = soxr.resample(np.ascontiguousarray(audio.T), rate_in, rate_out, quality="HQ")
    return np.ascontiguousarray(np.atleast_2d(out.T if out.ndim == 2 else out[None]), dtype=np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Explicit downmix: the mean of the channels, shape ``(1, samples)``."""
    return audio.mean(axis=0, keepdims=True).astype(np.float32)
