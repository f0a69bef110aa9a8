"""The ``synthetic`` source: a procedural, license-free corpus of the paper's common triggers.

Each trigger has its own recipe, so the triggers differ in ways a small model can learn:

- tapping: modal synthesis, a click exciting damped modes whose frequencies and decays belong to the
  material (glass rings high and long, metal rings long and inharmonic, plastic clicks, wood knocks low);
- brushing: band-limited noise under stroke envelopes (cork bright and grainy, bare mic broad, sponge
  mic muffled);
- scratching: bursts of crackle, sparse impulses in quick gestures (bare mic bright, sponge mic dull);
- massaging on a binaural mic: slow low rumbles swapping between the ears;
- whispering: espeak-ng's whisper voice when it is installed, else noise shaped by moving formants and
  syllable envelopes.

Everything is deterministic per seed (and per espeak-ng version). A "video" is ``synth-<trigger>-<k>``;
stereo output moves the sound between the ears.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from asmr_zoo.datasource import Segment
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.validation import check_seed
from asmr_zoo_sources.base import Unit, UnitSource

SYNTH_RATE = 22050
MIN_CLIP_SECONDS = 1.0  # the shortest video: shorter ones are all under the build's minimum segment length
NOISE_FLOOR = 10 ** (-66 / 20)

# Per material: modes as (frequency Hz, decay s, amplitude), the share of noise in the attack click,
# and taps per second.
MATERIAL_MODES: dict[str, tuple[list[tuple[float, float, float]], float, float]] = {
    "glass": ([(2350.0, 0.35, 1.0), (5230.0, 0.22, 0.6), (6900.0, 0.12, 0.35)], 0.1, 4.5),
    "plastic": ([(930.0, 0.035, 1.0), (1720.0, 0.025, 0.7), (3150.0, 0.018, 0.5)], 0.6, 7.0),
    "wood": ([(310.0, 0.06, 1.0), (690.0, 0.04, 0.6), (1290.0, 0.02, 0.3)], 0.3, 5.5),
    "metal": ([(1180.0, 0.7, 1.0), (3390.0, 0.55, 0.8), (4710.0, 0.45, 0.6), (6230.0, 0.3, 0.4)], 0.05, 2.5),
}

WHISPER_PHRASES = (
    "relax and close your eyes",
    "you are safe here",
    "let your shoulders drop",
    "breathe in slowly, and breathe out",
    "it is time to rest",
    "just listen to the sounds",
    "there is nothing else to do",
    "you did well today",
    "let the tingles come",
    "sleep well tonight",
    "I am right here with you",
    "soft and slow, soft and slow",
)


def _band_noise(rng: np.random.Generator, n: int, rate: int, lo: float, hi: float) -> np.ndarray:
    """White noise band-limited to ``[lo, hi]`` Hz with soft edges, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    edge = 0.25
    shape = np.clip((freqs - lo * (1 - edge)) / (lo * edge + 1e-9), 0, 1) * np.clip(
        (hi * (1 + edge) - freqs) / (hi * edge), 0, 1
    )
    out = np.fft.irfft(spectrum * shape, n)
    return out / (np.sqrt(np.mean(out**2)) + 1e-12)


def _strokes(rng: np.random.Generator, n: int, rate: int, per_second: float, duty: float) -> np.ndarray:
    """An envelope of strokes: smooth swells of random length with short gaps between them."""
    env = np.zeros(n)
    pos = 0
    while pos < n:
        length = max(8, int(rate * rng.uniform(0.7, 1.3) * duty / per_second))
        gap = int(rate * rng.uniform(0.5, 1.5) * (1 - duty) / per_second)
        stop = min(n, pos + length)
        t = np.linspace(0, 1, length, endpoint=False)[: stop - pos]
        env[pos:stop] = rng.uniform(0.6, 1.0) * np.sin(np.pi * t) ** 1.5
        pos = stop + gap
    return env


def _onsets(rng: np.random.Generator, n: int, rate: int, per_second: float) -> np.ndarray:
    """Tap times in samples: roughly regular with human jitter, in runs separated by short pauses."""
    times, t = [], rng.uniform(0.05, 0.3)
    while t * rate < n:
        times.append(int(t * rate))
        run_end = len(times) % int(rng.integers(6, 14)) == 0
        t += (rng.uniform(0.3, 0.8) if run_end else 0.0) + rng.uniform(0.75, 1.25) / per_second
    return np.array(times, dtype=np.int64)


def tapping(material: str) -> Callable[[np.random.Generator, int, int], np.ndarray]:
    """Modal synthesis: each tap is a click exciting the material's damped modes."""
    modes, click, per_second = MATERIAL_MODES[material]

    def render(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
        scale = rng.uniform(0.96, 1.04)
        length = int(rate * min(1.5, 5 * max(d for _, d, _ in modes)))
        t = np.arange(length) / rate
        kernels = []
        for _ in range(6):  # a few tap variants: where and how hard the finger lands
            kernel = sum(
                a
                * rng.uniform(0.6, 1.0)
                * np.sin(2 * np.pi * f * scale * rng.uniform(0.99, 1.01) * t + rng.uniform(0, 2 * np.pi))
                * np.exp(-t / d)
                for f, d, a in modes
            )
            attack = int(rate * 0.004)
            kernel[:attack] += click * rng.standard_normal(attack) * np.linspace(1, 0, attack)
            kernels.append(kernel / np.abs(kernel).max())
        out = np.zeros(n + length)
        for onset in _onsets(rng, n, rate, per_second * rng.uniform(0.85, 1.15)):
            out[onset : onset + length] += rng.uniform(0.4, 1.0) * kernels[rng.integers(len(kernels))]
        return out[:n]

    return render


def brushing(lo: float, hi: float, per_second: float, grain: float) -> Callable[..., np.ndarray]:
    """Noise in ``[lo, hi]`` Hz under stroke envelopes; ``grain`` adds bristle flutter."""

    def render(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
        noise = _band_noise(rng, n, rate, lo, hi)
        if grain:  # bristles: fast random amplitude flutter
            flutter = np.repeat(rng.uniform(1 - grain, 1, n // 40 + 1), 40)[:n]
            noise = noise * flutter
        return 0.3 * noise * _strokes(rng, n, rate, per_second * rng.uniform(0.85, 1.15), 0.8)

    return render


def scratching(lo: float, hi: float, density: float) -> Callable[..., np.ndarray]:
    """Crackle: ``density`` random impulses per second, filtered to ``[lo, hi]`` Hz, in quick gestures."""

    def render(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
        impulses = (rng.random(n) < density / rate) * rng.uniform(-1, 1, n)
        crackle = np.fft.irfft(np.fft.rfft(impulses) * _band_shape(n, rate, lo, hi), n)
        crackle /= np.abs(crackle).max() + 1e-12
        return 0.8 * crackle * _strokes(rng, n, rate, 2.2 * rng.uniform(0.85, 1.15), 0.6)

    return render


def _band_shape(n: int, rate: int, lo: float, hi: float) -> np.ndarray:
    freqs = np.fft.rfftfreq(n, 1 / rate)
    return ((freqs >= lo) & (freqs <= hi)).astype(float)


def massaging(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Slow low rumbles: hands rubbing a binaural mic's ears."""
    rumble = _band_noise(rng, n, rate, 40, 380)
    return 0.35 * rumble * _strokes(rng, n, rate, 0.6 * rng.uniform(0.85, 1.15), 0.9)


def _espeak_whisper(rng: np.random.Generator, n: int, rate: int) -> np.ndarray | None:
    import soundfile as sf

    from asmr_zoo.audio import resample

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return None
    chunks, total = [], 0
    speed, pitch = int(rng.integers(120, 160)), int(rng.integers(30, 60))
    while total < n:
        text = ". ".join(rng.choice(WHISPER_PHRASES, size=3, replace=False)) + "."
        args = [espeak, "-v", "en+whisper", "-s", str(speed), "-p", str(pitch), "-g", "6", "--stdout", text]
        result = subprocess.run(args, capture_output=True, check=False)
        if result.returncode != 0 or not result.stdout:
            return None
        voice, voice_rate = sf.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
        voice = resample(voice.T, voice_rate, rate)[0]
        chunks += [voice, np.zeros(int(rate * rng.uniform(0.3, 0.9)), dtype=np.float32)]
        total += len(voice) + len(chunks[-1])
    return np.concatenate(chunks)[:n].astype(np.float64)


def _formant_whisper(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Noise through moving vowel formants, under syllable envelopes: a whisper without a voice."""
    hop = rate // 25
    out = np.zeros(n)
    window = np.hanning(2 * hop)
    vowels = [(700, 1200), (400, 2000), (300, 2300), (500, 900), (600, 1700)]
    for pos in range(0, n - 2 * hop, hop):
        f1, f2 = vowels[(pos // (hop * 5)) % len(vowels)]
        frame = rng.standard_normal(2 * hop)
        freqs = np.fft.rfftfreq(2 * hop, 1 / rate)
        shape = np.exp(-(((freqs - f1) / 150) ** 2)) + 0.7 * np.exp(-(((freqs - f2) / 250) ** 2))
        shape += 0.25 * ((freqs > 3500) & (freqs < 6000))  # sibilance
        out[pos : pos + 2 * hop] += window * np.fft.irfft(np.fft.rfft(frame) * shape, 2 * hop)
    return out / (np.abs(out).max() + 1e-12) * _strokes(rng, n, rate, 4.0, 0.7)


def whispering(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """espeak-ng's whisper voice reading soothing phrases, or formant-shaped noise without it."""
    voice = _espeak_whisper(rng, n, rate)
    return voice if voice is not None else _formant_whisper(rng, n, rate)


RECIPES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "tapping_glass": tapping("glass"),
    "tapping_plastic": tapping("plastic"),
    "tapping_wood": tapping("wood"),
    "tapping_metal": tapping("metal"),
    "brushing_cork": brushing(900, 5000, 3.0, 0.7),
    "brushing_mic": brushing(150, 9000, 1.6, 0.0),
    "brushing_sponge_mic": brushing(60, 1100, 1.1, 0.0),
    "scratching_mic": scratching(1800, 9500, 900),
    "scratching_sponge_mic": scratching(250, 2000, 2500),
    "massaging_bi_mic": massaging,
    "whispering": whispering,
}


def _place(rng: np.random.Generator, mono: np.ndarray, rate: int, channels: int, trigger: str) -> np.ndarray:
    """Mono -> ``(channels, n)``; stereo sounds move between the ears (massaging swaps ears outright)."""
    mono = mono + NOISE_FLOOR * rng.standard_normal(len(mono))
    if channels == 1:
        return mono[None].astype(np.float32)
    t = np.arange(len(mono)) / rate
    pan = np.sin(2 * np.pi * rng.uniform(0.08, 0.25) * t + rng.uniform(0, 2 * np.pi))
    if trigger.startswith("massaging"):
        pan = np.tanh(4 * pan)
    angle = (pan * 0.45 + 0.5) * np.pi / 2  # equal-power panning
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)]).astype(np.float32)


class SyntheticSource(UnitSource):
    """Procedural trigger recordings; items are trigger names (``all`` for every recipe)."""

    name = "synthetic"
    description = "procedural, license-free recordings of the common triggers (tests, demo checkpoints)"

    def __init__(
        self,
        minutes: float = 1.0,
        seed: int = 0,
        channels: int = 2,
        clip_seconds: float = 30.0,
        rate: int = SYNTH_RATE,
    ) -> None:
        super().__init__()
        if not (0 < minutes <= 600 and 0 < clip_seconds <= 3600):  # also false for NaN
            raise UsageError(
                f"--minutes must be in (0, 600] and --clip-seconds in (0, 3600], got {minutes} and {clip_seconds}"
            )
        if channels not in (1, 2):
            raise UsageError(f"channels must be 1 or 2, not {channels}")
        self.minutes, self.seed, self.channels, self.rate = minutes, check_seed(seed), channels, rate
        self.videos = max(3, math.ceil(minutes * 60 / clip_seconds))
        self.clip_seconds = minutes * 60 / self.videos
        if self.clip_seconds < MIN_CLIP_SECONDS:  # shorter videos are all dropped by the build's minimum length
            raise UsageError(
                f"--minutes {minutes:g} and --clip-seconds {clip_seconds:g} make {self.videos} videos of "
                f"{self.clip_seconds:.3g} s per trigger, shorter than the {MIN_CLIP_SECONDS:g} s a clip must last: "
                f"raise --minutes (to at least {3 * MIN_CLIP_SECONDS / 60:.2f}) or --clip-seconds"
            )

    @staticmethod
    def triggers(items: Sequence[str]) -> list[str]:
        """The triggers ``items`` asks for (``all`` or none: every recipe); an unknown one is a UsageError."""
        triggers = list(RECIPES) if list(items) in ([], ["all"]) else list(items)
        unknown = [t for t in triggers if t not in RECIPES]
        if unknown:
            raise UsageError(f"no synthetic recipe for '{unknown[0]}'; available: {', '.join(RECIPES)}")
        return triggers

    def units(self, items: Sequence[str]) -> Iterator[Unit]:
        triggers = self.triggers(items)
        for trigger in triggers:
            for k in range(self.videos):
                video_id = f"synth-{trigger}-{k}"
                yield Unit(video_id, trigger, lambda t=trigger, k=k, v=video_id: iter([self.render(t, k, v)]))

    def render(self, trigger: str, k: int, video_id: str) -> Segment:
        """Video ``k`` of ``trigger``: the same audio for the same seed, every time."""
        rng = np.random.default_rng([self.seed, zlib.crc32(trigger.encode()), k])
        n = int(self.clip_seconds * self.rate)
        mono = RECIPES[trigger](rng, n, self.rate)
        if not np.isfinite(mono).all() or not np.abs(mono).max() > 0:
            raise DataError(f"the {trigger} recipe produced no audio")
        mono = 0.5 * mono / np.abs(mono).max()
        audio = _place(rng, mono, self.rate, self.channels, trigger)
        return Segment(
            trigger,
            trigger.replace("_", " "),
            audio,
            self.rate,
            0.0,
            n / self.rate,
            video_id,
            "synthetic",
            {"seed": self.seed},
        )
