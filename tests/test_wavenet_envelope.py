"""The envelope variant of WaveNet (a frame-rate loudness prior + local conditioning): the levels, the prior's
causality, cached generation against the teacher-forced pass, the two-part loss, gradients, save/load."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from asmr_zoo.checkpoints import load_checkpoint, save_checkpoint
from asmr_zoo.envelope import EnvelopeLogits, EnvelopePrior, band_edges, frame_levels, level_value
from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.plugins import get_zoo

TRIGGERS = ["tapping_glass", "whispering"]
HOP = 160  # 16 kHz: 10 ms frames


def tiny(conditioner: str = "global", **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    vocabulary = TRIGGERS if conditioner == "global" else []
    config = {"envelope_levels": 12, "envelope_hidden": 16, "sample_rate": 16000, **overrides}
    return build_model("wavenet", conditioner, vocabulary, config, preset="tiny").eval()


def codes_for(batch: int, steps: int) -> torch.Tensor:
    """Codes with a real loudness contour: noise under a slow swell, mu-law encoded."""
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(steps) / 16000
    wav = 0.5 * torch.sin(2 * math.pi * 3 * t) ** 2 * torch.randn(batch, steps, generator=gen).clamp(-2, 2) / 2
    return get_zoo().load("codecs", "mulaw8")().encode(wav)  # (B, T, 1)


def test_frame_levels_follow_the_loudness() -> None:
    wav = torch.cat([torch.zeros(1, 320), 0.5 * torch.ones(1, 320), 0.01 * torch.ones(1, 100)], dim=1)
    levels = frame_levels(wav, 160, 48)[..., 0]
    assert levels.shape == (1, 5)  # the last, partial frame counts too
    assert levels[0, 0] == levels[0, 1] == 0  # silence: the floor
    assert levels[0, 2] == levels[0, 3] == int((20 * math.log10(0.5) + 72) / 1.5)  # -6 dB
    assert levels[0, 4] == int((-40 + 72) / 1.5)  # -40 dB, over 100 samples only
    values = level_value(torch.arange(48), 48)
    assert values.min() > -1 and values.max() < 1 and (values.diff() > 0).all()


def test_band_levels_place_a_tone_in_its_band_at_its_power() -> None:
    edges = band_edges(160, 8)  # 50 Hz bins of a 320-point FFT at 16 kHz
    assert edges[0] == 0 and edges[-1] == 161 and all(b > a for a, b in itertools.pairwise(edges))
    t = torch.arange(16000) / 16000
    for hz in (100.0, 1000.0, 6000.0):
        wav = 0.5 * torch.sin(2 * math.pi * hz * t)[None]
        levels = frame_levels(wav, 160, 48, bands=8)[0, 2:-2]  # away from the clip's edges
        band = next(b for b in range(8) if edges[b] <= hz / 50 < edges[b + 1])
        assert (levels.argmax(-1) == band).all()
        mean_square_db = 10 * math.log10(0.125)  # a sine of amplitude 0.5
        assert (levels[:, band] - int((mean_square_db + 72) / 1.5)).abs().max() <= 1  # Parseval
        assert (levels[:, [b for b in range(8) if abs(b - band) > 1]] < levels[:, band : band + 1] - 20).all()
    silent = frame_levels(torch.zeros(1, 1000), 160, 48, bands=8)
    assert silent.shape == (1, 7, 8) and (silent == 0).all()


@pytest.mark.parametrize("bands", [1, 4])
def test_prior_is_causal_over_frames_and_bands(bands) -> None:
    torch.manual_seed(0)
    prior = EnvelopePrior(10, 8, 0, bands)
    levels = torch.randint(0, 10, (1, 12, bands), requires_grad=False)
    logits = prior(levels, None)
    assert logits.shape == (1, 12, bands, 10)
    for band in range(bands):
        changed = levels.clone()
        changed[0, 6, band] = (changed[0, 6, band] + 1) % 10
        other = prior(changed, None)
        assert torch.allclose(logits[:, :6], other[:, :6])  # frames 0..5 do not see frame 6
        assert torch.allclose(logits[:, 6, : band + 1], other[:, 6, : band + 1])  # nor its band and those before
        assert not torch.allclose(logits[:, 6, band + 1 :], other[:, 6, band + 1 :]) or band == bands - 1
        assert not torch.allclose(logits[:, 7], other[:, 7])
    assert prior.embed.weight.shape[0] == bands * 11  # per band: the levels and a start token


@pytest.mark.parametrize(
    ("conditioner", "bands", "loudness"), [("none", 1, 0), ("global", 1, 0), ("global", 3, 0), ("global", 3, 20)]
)
def test_cached_generation_matches_the_teacher_forced_pass(conditioner, bands, loudness) -> None:
    model = tiny(conditioner, envelope_bands=bands, envelope_loudness=loudness)
    cond = None if conditioner == "none" else torch.tensor([0, 1])
    samples, frames = cached_against_teacher_forced(model, codes_for(2, 3 * HOP + 37), cond)
    assert samples < 1e-4 and frames < 1e-4


def cached_against_teacher_forced(model, codes: torch.Tensor, cond: torch.Tensor | None) -> tuple[float, float]:
    """The largest differences of the cached loop's sample and frame logits, the frames forced to the audio's
    own levels, from the teacher-forced pass's."""
    with torch.no_grad():
        out = model(codes, cond)
        assert isinstance(out, EnvelopeLogits) and out.offset == 0
        state = model.init_state(codes.shape[0], cond)
        levels = iter(out.levels.flatten(1).unbind(1))  # frame by frame, band by band
        frame_logits, step_logits = [], []
        code = torch.full((codes.shape[0],), model.silence_code)

        def forced_level(logits: torch.Tensor) -> torch.Tensor:
            frame_logits.append(logits)
            return next(levels)

        for t in range(codes.shape[1]):
            step_logits.append(model.step_logits(code, state, forced_level))
            code = codes[:, t, 0]
    samples = (torch.stack(step_logits, 1) - out.samples[:, :, 0]).abs().max()
    return float(samples), float((torch.stack(frame_logits, 1) - out.frames.flatten(1, 2)).abs().max())


def test_training_crop_gives_the_same_logits_as_the_whole_window() -> None:
    model = tiny(sample_window=200)
    codes, cond = codes_for(2, 900), torch.tensor([1, 0])
    with torch.no_grad():
        full = model(codes, cond)
        model.train()
        cropped = model(codes, cond)
    assert cropped.samples.shape[1] == 200 and cropped.offset > 0
    expected = full.samples[:, cropped.offset : cropped.offset + 200]
    assert (cropped.samples - expected).abs().max() < 1e-4
    assert torch.equal(cropped.levels, full.levels)


@pytest.mark.parametrize(("bands", "loudness"), [(1, 0), (3, 0), (3, 20)])
def test_loss_is_a_two_part_code_length_and_reaches_every_parameter(bands, loudness) -> None:
    model = tiny(envelope_bands=bands, envelope_loudness=loudness).train()
    codes, cond = codes_for(2, 640), torch.tensor([0, 1])
    out = model(codes, cond)
    loss = model.loss_from_logits(out, codes)
    samples = torch.nn.functional.cross_entropy(out.samples.reshape(-1, 256), codes.reshape(-1))
    frames = torch.nn.functional.cross_entropy(out.frames.reshape(-1, 12), out.levels.reshape(-1), reduction="sum")
    assert torch.allclose(loss, samples + frames / codes.shape[:2].numel())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize(("bands", "loudness"), [(1, 0), (3, 0), (3, 20)])
def test_save_load_round_trip_and_seeded_generation(tmp_path, bands, loudness) -> None:
    model = tiny(envelope_bands=bands, envelope_loudness=loudness)
    path = tmp_path / "env.safetensors"
    save_checkpoint(path, model)
    loaded = load_checkpoint(path, zoo=get_zoo()).eval()
    codes, cond = codes_for(1, 400), torch.tensor([1])
    with torch.no_grad():
        assert torch.equal(model(codes, cond).samples, loaded(codes, cond).samples)
        runs = []
        for net in (model, loaded):
            policy = SamplingPolicy(generator=torch.Generator().manual_seed(4))
            runs.append(net.generate_fast(500, net.init_state(1, cond), policy))
    assert torch.equal(*runs)


def test_sample_batch_trains_the_sample_model_on_the_first_windows_and_the_prior_on_all() -> None:
    model = tiny(sample_window=200, sample_batch=1)
    codes, cond = codes_for(3, 900), torch.tensor([1, 0, 1])
    with torch.no_grad():
        full = model(codes, cond)
        model.train()
        part = model(codes, cond)
    assert part.frames.shape[0] == 3 and part.samples.shape[:2] == (1, 200)
    expected = full.samples[:1, part.offset : part.offset + 200]
    assert (part.samples - expected).abs().max() < 1e-4
    loss = model.loss_from_logits(part, codes)
    target = codes[:1, part.offset : part.offset + 200]
    samples = torch.nn.functional.cross_entropy(part.samples.reshape(-1, 256), target.reshape(-1))
    assert torch.allclose(loss, samples + part.frame_nats() / (3 * 900))


@pytest.mark.parametrize("name", ["wavenet-global-envelope", "wavenet-global-bands", "wavenet-global-bands-ss"])
def test_cached_generation_matches_the_teacher_forced_pass_on_shipped_weights(name) -> None:
    path = Path(__file__).resolve().parents[1] / "checkpoints" / f"{name}.safetensors"
    model = load_checkpoint(path, zoo=get_zoo()).eval()
    codes, cond = codes_for(2, 2 * HOP + 21), torch.tensor([0, 9])
    guided = model.config.envelope_guidance
    samples, _ = cached_against_teacher_forced(model, codes, cond)
    assert samples < 1e-3  # given the frames, the sample model is the teacher-forced one, guided or not
    model.use_guidance(0)  # the prior's own distribution: guidance tilts the draws away from it on purpose
    samples, frames = cached_against_teacher_forced(model, codes, cond)
    assert samples < 1e-3 and frames < 1e-3
    assert guided == (4.0 if name.endswith("-ss") else 0.0)
