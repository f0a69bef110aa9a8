"""A parametric binaural renderer: mono in, ``(2, samples)`` out, along a path of azimuths over time.

The head is a rigid sphere (radius ``HEAD_RADIUS_M``). Azimuth 0 is straight ahead, +90 degrees the right ear,
-90 the left, 180 behind. Two cues are rendered:

- ITD: Woodworth's formula, ITD = r / c (theta + sin theta) for the lateral angle theta, split evenly between
  the ears as fractional delays (a linear phase per block);
- ILD: Brown & Duda's (1998) head-shadow filter per ear, |H| = |1 + j alpha w / 2w0| / |1 + j w / 2w0| with
  w0 = c / r and alpha set by the angle between the source and that ear (a 6 dB treble boost facing it, a
  treble cut of up to 20 dB on the far side), applied as a magnitude response (zero phase), so it does not
  add to the ITD.

Both are applied in short, half-overlapping blocks at the block's azimuth; overlap-add cross-fades the blocks,
so a moving source glides without clicks.

This head has no pinnae: a source in front and its mirror image behind (azimuth 30 and 150 degrees) sound
the same, so ``circle`` is heard as a sweep from ear to ear and back rather than as front and back.
"""

from __future__ import annotations

import difflib
import math

import numpy as np

from asmr_zoo.errors import DataError, UsageError

HEAD_RADIUS_M = 0.0875
SPEED_OF_SOUND_M_S = 343.0
ALPHA_MIN, THETA_MIN_DEG = 0.1, 150.0  # Brown & Duda 1998: the deepest shadow, 150 degrees from the ear
BLOCK_SECONDS = 0.016  # rendering blocks (half-overlapping), each at its centre's azimuth
MIN_PERIOD_S = 2 * BLOCK_SECONDS  # a faster sweep skips whole turns between blocks (and 1e-310 s overflows)
PEAK_CEILING = 10 ** (-1 / 20)  # -1 dBFS: louder renders are scaled down, never clipped
PATHS = ("left", "right", "center", "ear-to-ear", "circle")
DEFAULT_PERIOD_S = 4.0
CHUNK_BLOCKS = 2048  # blocks transformed at once: bounds the memory of long files


def check_path(path: str, period: float | None) -> float:
    """Validate a path name and its period (seconds; None for the default); return the period."""
    if path not in PATHS:
        hint = difflib.get_close_matches(path, PATHS, n=1)
        raise UsageError(
            f"unknown spatial path '{path}'"
            + (f" (did you mean '{hint[0]}'?)" if hint else "")
            + f"; choose one of: {', '.join(PATHS)}"
        )
    period = DEFAULT_PERIOD_S if period is None else float(period)
    if not (0 < period <= 3600):  # also false for NaN
        raise UsageError(f"--period must be a number of seconds in (0, 3600], not {period}")
    if period < MIN_PERIOD_S and path in ("ear-to-ear", "circle"):
        raise UsageError(
            f"--period {period:g} is shorter than the {MIN_PERIOD_S:g} s of two rendering blocks, so the sweep "
            f"cannot be rendered: use at least {MIN_PERIOD_S:g}"
        )
    return period


def azimuth(path: str, times: np.ndarray, period: float) -> np.ndarray:
    """Azimuth in radians at ``times`` (seconds): fixed, ``ear-to-ear`` (left at t=0, right at half a period,
    a sinusoidal sweep), or ``circle`` (front at t=0, then right, behind, left: one turn per period)."""
    times = np.asarray(times, dtype=np.float64)
    fixed = {"left": -np.pi / 2, "right": np.pi / 2, "center": 0.0}
    if path in fixed:
        return np.full(times.shape, fixed[path])
    if path == "ear-to-ear":
        return -np.pi / 2 * np.cos(2 * np.pi * times / period)
    return 2 * np.pi * times / period


def woodworth_itd(theta: np.ndarray) -> np.ndarray:
    """ITD in seconds (positive: the right ear hears first), Woodworth's r/c (theta + sin theta) of the lateral
    angle; front and back mirror each other."""
    lateral = np.arcsin(np.clip(np.sin(theta), -1.0, 1.0))
    return HEAD_RADIUS_M / SPEED_OF_SOUND_M_S * (lateral + np.sin(lateral))


def _alpha(incidence: np.ndarray) -> np.ndarray:
    """Brown & Duda's alpha at ``incidence`` (radians between the source and the ear): 2 facing the ear (+6 dB
    treble), ``ALPHA_MIN`` at ``THETA_MIN_DEG``."""
    return (1 + ALPHA_MIN / 2) + (1 - ALPHA_MIN / 2) * np.cos(incidence / math.radians(THETA_MIN_DEG) * np.pi)


# The mean of alpha^2 over all directions and both ears (the incidence is then uniform in [0, pi]): the
# diffuse-field treble power, by which the gains are divided so that on average each ear keeps the input's level.
_K = math.pi / math.radians(THETA_MIN_DEG)
_A, _B = 1 + ALPHA_MIN / 2, 1 - ALPHA_MIN / 2
DIFFUSE_ALPHA2 = (
    _A**2
    + 2 * _A * _B * math.sin(_K * math.pi) / (_K * math.pi)
    + _B**2 * (0.5 + math.sin(2 * _K * math.pi) / (4 * _K * math.pi))
)


def shadow_gain(theta: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head-shadow magnitude ``(left, right)`` at azimuths ``theta`` (radians, shape ``(...)``) and ``freqs``
    (Hz), arrays of shape ``(..., len(freqs))``: Brown & Duda's |1 + j alpha s| / |1 + j s| with s = w / 2w0,
    diffuse-field equalised (divided by the same ``sqrt(1 + DIFFUSE_ALPHA2 s^2) / |1 + j s|`` for both ears)."""
    theta = np.asarray(theta, dtype=np.float64)[..., None]
    s = 2 * np.pi * np.asarray(freqs, dtype=np.float64) / (2 * SPEED_OF_SOUND_M_S / HEAD_RADIUS_M)
    gains = []
    for ear in (-np.pi / 2, np.pi / 2):
        incidence = np.abs(np.angle(np.exp(1j * (theta - ear))))  # 0 (facing the ear) .. pi (opposite)
        gains.append(np.sqrt((1 + (_alpha(incidence) * s) ** 2) / (1 + DIFFUSE_ALPHA2 * s**2)))
    return gains[0], gains[1]


def render(mono: np.ndarray, rate: int, path: str, period: float = DEFAULT_PERIOD_S) -> np.ndarray:
    """``(samples,)`` mono -> ``(2, samples)`` binaural float64 along ``path`` (no level limiting).

    Blocks of ``BLOCK_SECONDS`` under a periodic Hann window at half overlap (the windows sum to one) are
    rendered at their centre azimuth: each ear's spectrum is multiplied by its head-shadow gain and by the
    phase of its share of the ITD, e^(-j w d) with d = +ITD/2 (left) or -ITD/2 (right); zero padding keeps the
    shifted, filtered block from wrapping around; the blocks are then overlap-added, which cross-fades them."""
    mono = np.asarray(mono, dtype=np.float64)
    block = 2 * max(8, round(BLOCK_SECONDS * rate / 2))
    hop, n, n_fft = block // 2, len(mono), 2 * block
    padded = np.concatenate([np.zeros(block), mono, np.zeros(2 * block)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(block) / block)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    out = np.zeros((2, len(padded) + n_fft))
    all_starts = hop * np.arange((n + 2 * block) // hop)
    for first in range(0, len(all_starts), CHUNK_BLOCKS):
        starts = all_starts[first : first + CHUNK_BLOCKS]
        frames = padded[starts[:, None] + np.arange(block)] * window
        spectra = np.fft.rfft(np.pad(frames, ((0, 0), (hop, hop))), axis=-1)  # the block in the buffer's middle
        theta = azimuth(path, (starts + hop - block) / rate, period)  # at the block centres
        half_itd = woodworth_itd(theta)[:, None] / 2
        gains = shadow_gain(theta, freqs)
        for ear, (gain, delay) in enumerate(zip(gains, (half_itd, -half_itd), strict=True)):
            shifted = spectra * gain * np.exp(-2j * np.pi * freqs * delay)
            for start, piece in zip(starts, np.fft.irfft(shifted, n=n_fft, axis=-1), strict=True):
                out[ear, start : start + n_fft] += piece
    offset = block + hop  # the leading zeros, and the block's place inside its padded buffer
    return out[:, offset : offset + n]


def spatialize(mono: np.ndarray, rate: int, path: str, period: float | None = None) -> tuple[np.ndarray, float]:
    """Render ``mono`` (``(samples,)`` or ``(1, samples)``; DataError for anything else) along ``path``; return
    float32 ``(2, samples)`` and the gain in dB applied to keep the peak under -1 dBFS (0 when none was needed)."""
    period = check_path(path, period)
    mono = np.asarray(mono, dtype=np.float64)
    if mono.ndim == 2 and mono.shape[0] == 1:
        mono = mono[0]
    if mono.ndim != 1:
        raise DataError(
            f"spatialize needs mono audio, (samples,) or (1, samples), not shape {mono.shape}; downmix first"
        )
    stereo = render(mono, rate, path, period)
    peak = float(np.abs(stereo).max()) if stereo.size else 0.0
    gain = min(1.0, PEAK_CEILING / peak) if peak > 0 else 1.0
    return (stereo * gain).astype(np.float32), 20 * math.log10(gain)
