"""The band variants' pieces (asmr_zoo/envelope.py): the broadband loudness read from band levels, the band
post-filter, and the samplers ending every generation with ``Model.finish``."""

from __future__ import annotations

import math

import pytest
import torch

from asmr_zoo.envelope import broadband, enforce_bands, frame_levels, level_power
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.sampling import AncestralSampler, FoldedSampler

HOP, LEVELS, BANDS = 160, 32, 8
STEP_DB = 72 / LEVELS


def noise(batch: int, length: int, seed: int = 0, level: float = 0.1) -> torch.Tensor:
    return level * torch.randn(batch, length, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("length", [16000, 16003, 161, 100])
def test_the_audio_own_levels_leave_it_unchanged(length) -> None:
    wav = noise(2, length)
    out = enforce_bands(wav, frame_levels(wav, HOP, LEVELS, BANDS), LEVELS, HOP)
    assert out.shape == wav.shape
    assert (out - wav).abs().max() < 1e-5  # every band is under the top of its own level's bin: gain 1


def test_bands_drawn_at_the_floor_are_taken_out_and_the_others_kept() -> None:
    wav = noise(1, 16000)
    own = frame_levels(wav, HOP, LEVELS, BANDS)
    track = own.clone()
    track[..., 3:] = 0  # the prior says: nothing above band 2
    out = enforce_bands(wav, track, LEVELS, HOP)
    after = frame_levels(out, HOP, LEVELS, BANDS)[:, 2:-2]  # away from the clip's edges
    # white noise at -20 dBFS has each high band around -25 dB (level ~21); about the floor's bin is left
    # (the windows' leakage from the kept bands lifts a few frames by a few levels)
    assert own[:, 2:-2, 3:].float().mean() > 18
    assert after[..., 4:].float().mean() <= 1.5
    assert (after[..., 4:] <= own[:, 2:-2, 4:] - 14).all()  # every frame of every cut band: 30 dB down or more
    assert (after[..., :3] - own[:, 2:-2, :3]).abs().max() <= 1  # the kept bands lose no more than a level


def test_the_filter_never_boosts() -> None:
    wav = noise(1, 8000, level=0.01)
    loud = torch.full_like(frame_levels(wav, HOP, LEVELS, BANDS), LEVELS - 1)
    assert torch.allclose(enforce_bands(wav, loud, LEVELS, HOP), wav, atol=1e-6)


def test_a_track_shorter_than_the_audio_holds_its_last_frame() -> None:
    wav = noise(1, 10 * HOP)
    track = frame_levels(wav, HOP, LEVELS, BANDS)
    full = torch.cat([track[:, :6], track[:, 5:6].expand(-1, 4, -1)], dim=1)
    assert torch.equal(enforce_bands(wav, track[:, :6], LEVELS, HOP), enforce_bands(wav, full, LEVELS, HOP))


def test_broadband_loudness_sums_the_band_powers() -> None:
    one = torch.zeros(1, BANDS, dtype=torch.long)
    one[0, 2] = 20
    band_db = -72 + 20.5 * STEP_DB
    assert broadband(one, LEVELS, 48)[0] == int((band_db + 72) / 1.5)
    two = one.clone()
    two[0, 5] = 20  # two equal bands: 3 dB more
    assert broadband(two, LEVELS, 48)[0] == int((band_db + 10 * math.log10(2) + 72) / 1.5)
    assert broadband(torch.zeros(3, BANDS, dtype=torch.long), LEVELS, 48).eq(0).all()  # the floor is no power
    assert level_power(torch.tensor([0]), LEVELS)[0] == 0
    # stationary noise: the bands' loudness is the frame's loudness, to within a level (1.5 dB)
    wav = noise(1, 16000, seed=3)
    derived = broadband(frame_levels(wav, HOP, LEVELS, BANDS), LEVELS, 48)[0, 2:-2]
    direct = frame_levels(wav, HOP, 48)[0, 2:-2, 0]
    assert (derived - direct).float().abs().mean() <= 1.0


def tiny_band_model(name: str = "wavenet") -> torch.nn.Module:
    torch.manual_seed(0)
    config = {
        "envelope_levels": 12,
        "envelope_hidden": 16,
        "envelope_bands": 4,
        "envelope_loudness": 20,
        "sample_rate": 16000,
    }
    conditioner = "global" if name == "wavenet" else "gate-bias"
    extra = {} if name == "wavenet" else {"hidden": 32}
    return build_model(name, conditioner, ["tapping_glass", "whispering"], {**config, **extra}, preset="tiny").eval()


@pytest.mark.parametrize("name", ["wavenet", "wavernn"])
def test_samplers_end_with_the_band_post_filter(name) -> None:
    model = tiny_band_model(name)
    cond = torch.tensor([0, 1])
    codes, state = AncestralSampler(seed=1)._codes_and_state(model, 1000, cond, None)
    raw = model.codec.decode(codes)
    track = torch.stack(state.envelope.track, 1)
    assert track.shape == (2, 7, 4)  # one drawn frame per 10 ms (the last one partial)
    expected = enforce_bands(raw, track, 12, HOP)
    assert not torch.allclose(expected, raw)  # the untrained sample model is louder than its bands say
    assert torch.equal(AncestralSampler(seed=1).generate(model, 1000, cond), expected)
    folded = FoldedSampler(seed=1, fold_length=400, overlap=40).generate(model, 1000, cond)
    assert folded.shape == (2, 1000) and folded.abs().max() <= 1
    # a clip shorter than one fold is one fold: the ancestral clip (fuzzing found a crash here)
    short = FoldedSampler(seed=1).generate(model, 300, cond)
    assert torch.equal(short, AncestralSampler(seed=1).generate(model, 300, cond).clamp(-1, 1))


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"envelope_levels": 12, "envelope_loudness": 20}, "envelope_bands > 1"),
        ({"envelope_bands": 4, "envelope_loudness": 20}, "envelope_levels > 0"),
        ({"envelope_levels": 12, "envelope_bands": 4, "envelope_loudness": -1}, "must be >= 0"),
    ],
)
@pytest.mark.parametrize("name", ["wavenet", "wavernn"])
def test_loudness_without_bands_is_refused(name, config, words) -> None:
    with pytest.raises(UsageError, match=words):
        build_model(name, "none", [], config, preset="tiny")
