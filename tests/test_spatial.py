"""Spatial statistics on signals with known answers, set distances, and the binaural renderer measured by them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.spatial import BANDS, analyse, describe, ks_statistic, pool, set_distances, wasserstein_1d
from asmr_zoo.spatialize import (
    HEAD_RADIUS_M,
    PEAK_CEILING,
    SPEED_OF_SOUND_M_S,
    azimuth,
    check_path,
    shadow_gain,
    spatialize,
    woodworth_itd,
)


def noise(rng: np.random.Generator, seconds: float, rate: int, level: float = 0.1) -> np.ndarray:
    return level * rng.standard_normal(round(seconds * rate))


def delayed(x: np.ndarray, seconds: float, rate: int) -> np.ndarray:
    """``x`` delayed by a fractional number of samples: an exact phase shift of the zero-padded spectrum."""
    n = len(x)
    freqs = np.fft.rfftfreq(2 * n, 1 / rate)
    return np.fft.irfft(np.fft.rfft(x, 2 * n) * np.exp(-2j * np.pi * freqs * seconds), 2 * n)[:n]


def brown_duda(incidence_deg: float, freqs: np.ndarray) -> np.ndarray:
    """Brown & Duda (1998), "A structural model for binaural sound synthesis", the one-pole, one-zero head
    shadow of a rigid sphere: H(w, theta) = (1 + j alpha(theta) w / 2w0) / (1 + j w / 2w0), w0 = c / a, with
    alpha(theta) = (1 + alpha_min / 2) + (1 - alpha_min / 2) cos(theta / theta_min * 180 deg), alpha_min = 0.1,
    theta_min = 150 deg; theta is the angle between the source and the ear (written here from the paper, not
    taken from the renderer; only the head radius a and the speed of sound c are the renderer's)."""
    alpha_min, theta_min = 0.1, 150.0
    w0 = SPEED_OF_SOUND_M_S / HEAD_RADIUS_M
    alpha = (1 + alpha_min / 2) + (1 - alpha_min / 2) * math.cos(math.radians(incidence_deg / theta_min * 180))
    w = 2 * np.pi * np.asarray(freqs, dtype=np.float64)
    return (1 + 1j * alpha * w / (2 * w0)) / (1 + 1j * w / (2 * w0))


def incidences(azimuth_deg: float) -> tuple[float, float]:
    """The angles (degrees, 0..180) between a source at ``azimuth_deg`` and the left (-90) and right (+90) ears."""
    return tuple(abs((azimuth_deg - ear + 180) % 360 - 180) for ear in (-90.0, 90.0))


def reference_ild_db(azimuth_deg: float, band: str, rate: int) -> float:
    """The band ILD (right over left) of white noise through Brown & Duda's filters: the mean of |H|^2 over a
    fine, uniform frequency grid of the band (cut at Nyquist), as the analyser's FFT bins sample it."""
    lo, hi = BANDS[band]
    freqs = np.linspace(lo, min(hi, rate / 2), 4001)
    left, right = (np.abs(brown_duda(theta, freqs)) ** 2 for theta in incidences(azimuth_deg))
    return float(10 * np.log10(right.mean() / left.mean()))


# --- statistics on constructed signals -----------------------------------------------------------------------


@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("delay_us", [-500.0, 37.5, 312.5, 655.0])
def test_a_delayed_copy_gives_its_delay_as_itd(rate: int, delay_us: float) -> None:
    x = noise(np.random.default_rng(1), 1.0, rate)
    result = analyse(np.stack([delayed(x, delay_us * 1e-6, rate), x]), rate)  # the left ear hears it later
    assert result.clip.itd_us == pytest.approx(delay_us, abs=2.0)
    frames = result.frames.itd_us[result.frames.active]
    assert len(frames) > 10 and np.abs(frames - delay_us).max() < 5.0
    assert result.clip.coherence > 0.99 and abs(result.clip.ild_db["broadband"]) < 0.1


def test_a_gain_gives_its_ild_in_every_band() -> None:
    x = noise(np.random.default_rng(2), 1.0, 22050)
    result = analyse(np.stack([x, 0.5 * x]), 22050)  # right 6 dB quieter
    for band in ("broadband", *BANDS):
        assert result.clip.ild_db[band] == pytest.approx(20 * math.log10(0.5), abs=0.01)
        assert np.allclose(result.frames.ild_db[band][result.frames.active], 20 * math.log10(0.5), atol=0.01)
    assert result.clip.itd_us == pytest.approx(0.0, abs=0.5)
    assert result.clip.side_mid_db == pytest.approx(20 * math.log10(0.5 / 1.5), abs=0.01)
    assert not result.clip.dual_mono and not result.clip.anti_phase


def test_dual_mono_anti_phase_and_independent_channels() -> None:
    rng = np.random.default_rng(3)
    x = noise(rng, 1.0, 16000)
    dual = analyse(np.stack([x, x + 1e-4 * noise(rng, 1.0, 16000)]), 16000).clip  # mono forced to two channels
    assert dual.dual_mono and not dual.anti_phase and dual.side_mid_db < -40
    anti = analyse(np.stack([x, -x]), 16000).clip
    assert anti.anti_phase and not anti.dual_mono and anti.correlation == pytest.approx(-1.0)
    independent = analyse(np.stack([x, noise(rng, 1.0, 16000)]), 16000).clip
    assert not independent.dual_mono and not independent.anti_phase
    assert independent.coherence < 0.1 and abs(independent.correlation) < 0.1
    assert independent.side_mid_db == pytest.approx(0.0, abs=0.5)


def test_silence_is_flagged_and_left_out_of_a_pool() -> None:
    silent = analyse(np.zeros((2, 8000)), 16000)
    assert silent.clip.silent and not silent.frames.active.any()
    loud = analyse(np.stack([noise(np.random.default_rng(4), 0.5, 16000)] * 2), 16000)
    pooled = pool([silent, loud])
    assert (pooled.clips, pooled.silent, pooled.dual_mono) == (2, 1, 1)
    assert pooled.values["itd_us"].size == loud.frames.active.sum()


def test_mono_audio_is_refused() -> None:
    with pytest.raises(DataError, match=r"need \(2, samples\) stereo audio"):
        analyse(noise(np.random.default_rng(5), 0.1, 16000)[None], 16000)


@pytest.mark.parametrize(("rate", "unmeasured"), [(8000, ()), (4000, ("high",)), (1000, ("mid", "high"))])
def test_a_band_above_nyquist_is_not_measured(rate: int, unmeasured: tuple[str, ...]) -> None:
    x = noise(np.random.default_rng(6), 1.0, rate)
    result = analyse(np.stack([x, 0.5 * x]), rate)  # right 6 dB quieter: every measured band says so
    for band in ("broadband", *BANDS):
        if band in unmeasured:  # wholly above Nyquist: not 0 dB, but not measured
            assert result.clip.ild_db[band] is None and np.isnan(result.frames.ild_db[band]).all()
        else:  # at 8 kHz the 2-8 kHz band is measured up to Nyquist (2-4 kHz)
            assert result.clip.ild_db[band] == pytest.approx(20 * math.log10(0.5), abs=0.01)
    summary = describe(pool([result]))
    assert all(summary[f"ild_{band}_db"] is None for band in unmeasured)
    assert summary["ild_db"]["mean"] == pytest.approx(20 * math.log10(0.5), abs=0.01)
    distances = set_distances(pool([result]), pool([result]))
    assert set(distances).isdisjoint(f"ild_{band}_db" for band in unmeasured) and "ild_db" in distances


# --- set-level distances -------------------------------------------------------------------------------------


def test_wasserstein_and_ks_on_samples() -> None:
    a = np.random.default_rng(7).standard_normal(500)
    assert wasserstein_1d(a, a) == 0.0 and ks_statistic(a, a) == 0.0
    shifts = [0.5, 1.0, 2.0]
    assert [wasserstein_1d(a, a + s) for s in shifts] == pytest.approx(shifts)  # W1 of a translation: the shift
    assert ks_statistic(a, a + 100) == 1.0
    assert wasserstein_1d(np.array([0.0, 1.0]), np.array([0.0, 0.0, 1.0, 1.0])) == pytest.approx(0.0)


def test_set_distances_grow_with_the_difference_and_refuse_mixed_rates() -> None:
    rng = np.random.default_rng(8)
    clips = [noise(rng, 0.5, 16000) for _ in range(3)]

    def spatial_set(gain: float, rate: int = 16000):
        return pool([analyse(np.stack([x, gain * x]), rate) for x in clips])

    same = set_distances(spatial_set(0.5), spatial_set(0.5))
    assert all(d == {"wasserstein": 0.0, "ks": 0.0} for d in same.values())
    small = set_distances(spatial_set(1.0), spatial_set(0.9))["ild_db"]["wasserstein"]
    large = set_distances(spatial_set(1.0), spatial_set(0.5))["ild_db"]["wasserstein"]
    assert small == pytest.approx(-20 * math.log10(0.9), abs=0.01) and large == pytest.approx(6.02, abs=0.01)
    with pytest.raises(DataError, match="16000 Hz cannot be compared with ones at 22050 Hz"):
        set_distances(spatial_set(1.0), spatial_set(1.0, rate=22050))


def test_a_pool_keeps_a_bounded_seeded_sample_of_the_frames() -> None:
    rng = np.random.default_rng(9)
    clips = [noise(rng, 1.0, 16000) for _ in range(4)]
    analyses = [analyse(np.stack([x, gain * x]), 16000) for x, gain in zip(clips, (1.0, 1.0, 0.5, 0.5), strict=True)]
    everything = pool(analyses, limit=None)
    total = sum(int(a.frames.active.sum()) for a in analyses)
    assert everything.frames == total and everything.values["ild_db"].size == total
    sample = pool(analyses, limit=60, seed=1)
    assert sample.frames == total and all(v.size == 60 for v in sample.values.values())
    assert np.isin(sample.values["ild_db"], everything.values["ild_db"]).all()
    quieter = np.mean(sample.values["ild_db"] < -3)  # frames of the last two clips: half of all frames
    assert 0.3 < quieter < 0.7
    assert np.array_equal(pool(analyses, limit=60, seed=1).values["itd_us"], sample.values["itd_us"])
    assert not np.array_equal(pool(analyses, limit=60, seed=2).values["ild_db"], sample.values["ild_db"])
    summary = describe(sample)
    assert (summary["frames"], summary["sampled_frames"], summary["clips"]) == (total, 60, 4)


# --- the binaural renderer, measured by the statistics -------------------------------------------------------


@pytest.fixture(scope="module")
def burst() -> tuple[np.ndarray, int]:
    """A mono noise burst: what the renderer places."""
    return noise(np.random.default_rng(10), 1.5, 22050), 22050


def test_the_reference_head_shadow_is_the_papers() -> None:
    assert abs(brown_duda(0.0, np.array([0.0]))[0]) == pytest.approx(1.0)  # no shadow at DC
    assert abs(brown_duda(0.0, np.array([1e8]))[0]) == pytest.approx(2.0, rel=1e-4)  # +6 dB treble facing the ear
    assert abs(brown_duda(150.0, np.array([1e8]))[0]) == pytest.approx(0.1, rel=1e-3)  # -20 dB, deepest shadow
    pinned = {"low": 0.975, "mid": 6.337, "high": 13.796}  # dB, a source at the right ear, 22.05 kHz
    for band, value in pinned.items():
        assert reference_ild_db(90.0, band, 22050) == pytest.approx(value, abs=0.005)
        assert reference_ild_db(-90.0, band, 22050) == pytest.approx(-value, abs=0.005)
    assert reference_ild_db(0.0, "high", 22050) == 0.0 == reference_ild_db(180.0, "high", 22050)


@pytest.mark.parametrize("azimuth_deg", [-120.0, -45.0, 0.0, 30.0, 90.0, 150.0, 180.0])
def test_the_head_shadow_gains_have_brown_and_dudas_interaural_ratio(azimuth_deg: float) -> None:
    freqs = np.linspace(0.0, 11025.0, 200)
    left, right = shadow_gain(np.array(math.radians(azimuth_deg)), freqs)
    ref_left, ref_right = (np.abs(brown_duda(theta, freqs)) for theta in incidences(azimuth_deg))
    assert np.allclose(right / left, ref_right / ref_left, rtol=1e-9)  # the diffuse-field EQ is common to both


@pytest.mark.parametrize(("path", "theta"), [("left", -math.pi / 2), ("center", 0.0), ("right", math.pi / 2)])
def test_fixed_positions_give_woodworth_itd_and_head_shadow_ild(burst, path: str, theta: float) -> None:
    mono, rate = burst
    stereo, gain_db = spatialize(mono, rate, path)
    assert stereo.shape == (2, len(mono)) and stereo.dtype == np.float32 and gain_db == 0.0
    clip = analyse(stereo, rate).clip
    assert clip.itd_us == pytest.approx(1e6 * float(woodworth_itd(np.array(theta))), abs=3.0)
    for band in BANDS:  # measured from the rendered noise, against the paper's filter
        assert clip.ild_db[band] == pytest.approx(reference_ild_db(math.degrees(theta), band, rate), abs=0.5)
    if path == "center":
        assert abs(clip.itd_us) < 1 and abs(clip.ild_db["broadband"]) < 0.1 and clip.dual_mono
    else:
        sign = 1 if path == "right" else -1
        assert sign * clip.itd_us > 600 and sign * clip.ild_db["high"] > 10  # towards the named ear
        assert abs(clip.ild_db["low"]) < 2 < abs(clip.ild_db["mid"]) < abs(clip.ild_db["high"])  # shadow grows


def test_at_8_khz_the_top_band_is_measured_to_nyquist_against_the_reference() -> None:
    rate = 8000
    stereo, _ = spatialize(noise(np.random.default_rng(11), 1.5, rate), rate, "right")
    clip = analyse(stereo, rate).clip
    for band in BANDS:  # the 2-8 kHz band is 2-4 kHz here, and so is the reference's
        assert clip.ild_db[band] == pytest.approx(reference_ild_db(90.0, band, rate), abs=0.5)
    assert clip.ild_db["high"] < reference_ild_db(90.0, "high", 22050) - 1  # less shadow in 2-4 than in 2-8 kHz


def test_spatialize_takes_mono_only() -> None:
    mono = noise(np.random.default_rng(12), 0.2, 16000)
    assert np.array_equal(spatialize(mono[None], 16000, "left")[0], spatialize(mono, 16000, "left")[0])
    for shape in [(2, 3200), (3200, 2), (1, 1, 3200)]:
        with pytest.raises(DataError, match=r"spatialize needs mono audio, .* not shape .*; downmix first"):
            spatialize(np.zeros(shape), 16000, "left")


def test_ear_to_ear_moves_monotonically_along_the_requested_trajectory(burst) -> None:
    mono, rate = burst
    period = 2 * len(mono) / rate  # the clip is one sweep from left to right
    frames = analyse(spatialize(mono, rate, "ear-to-ear", period)[0], rate).frames
    inside = frames.active & (frames.times > 0.05) & (frames.times < len(mono) / rate - 0.05)
    requested = 1e6 * woodworth_itd(azimuth("ear-to-ear", frames.times, period))
    assert np.abs(frames.itd_us - requested)[inside].max() < 5.0
    assert np.all(np.diff(frames.itd_us[inside]) > -2.0)  # monotone, up to the estimate's noise
    assert frames.itd_us[inside][0] < -600 and frames.itd_us[inside][-1] > 600
    high = frames.ild_db["high"][inside]
    assert high[:5].mean() < -10 < 10 < high[-5:].mean()


def test_circle_mirrors_front_and_back(burst) -> None:
    mono, rate = burst
    period = len(mono) / rate  # one turn: front, right, behind, left
    frames = analyse(spatialize(mono, rate, "circle", period)[0], rate).frames
    requested = 1e6 * woodworth_itd(azimuth("circle", frames.times, period))
    inside = frames.active & (frames.times > 0.05) & (frames.times < period - 0.05)
    assert np.abs(frames.itd_us - requested)[inside].max() < 5.0
    quarter = np.argmin(np.abs(frames.times - period / 4))
    three_quarters = np.argmin(np.abs(frames.times - 3 * period / 4))
    assert frames.itd_us[quarter] > 600 and frames.itd_us[three_quarters] < -600


def test_a_moving_tone_stays_clean_no_clicks() -> None:
    rate = 16000
    t = np.arange(2 * rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    for path in ("ear-to-ear", "circle"):
        stereo, _ = spatialize(tone, rate, path, 0.5)  # fast: four sweeps or turns in two seconds
        spectrum = np.abs(np.fft.rfft(stereo[:, rate // 4 : -rate // 4] * np.hanning(rate * 3 // 2), axis=-1)) ** 2
        freqs = np.fft.rfftfreq(rate * 3 // 2, 1 / rate)
        splatter = spectrum[:, freqs > 1000].sum() / spectrum.sum()
        assert splatter < 1e-8, f"{path}: {10 * np.log10(splatter):.0f} dB of broadband energy"


def test_loud_input_is_scaled_under_the_ceiling_and_quiet_input_is_not(burst) -> None:
    mono, rate = burst
    loud = np.clip(mono / np.abs(mono).max(), -1, 1)
    stereo, gain_db = spatialize(loud, rate, "right")
    assert gain_db < 0 and np.abs(stereo).max() <= PEAK_CEILING + 1e-6
    quiet, gain_db = spatialize(0.1 * mono, rate, "ear-to-ear")
    assert gain_db == 0.0
    level_db = 10 * np.log10((quiet.astype(np.float64) ** 2).mean() / (0.1 * mono).var())
    assert -3 < level_db < 3  # diffuse-field equalised: on average each ear keeps the input's level


def test_path_and_period_are_checked() -> None:
    assert check_path("circle", None) == 4.0 and check_path("left", 2.5) == 2.5
    with pytest.raises(UsageError, match=r"unknown spatial path 'centre' \(did you mean 'center'\?\); choose one"):
        check_path("centre", None)
    for period in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="--period must be"):
            check_path("ear-to-ear", period)
