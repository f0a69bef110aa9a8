"""Trigger guidance of the band prior (``asmr_zoo.guidance``): the tilt it applies, its evidence, that it is off
at 0 and when the only rival is the trigger itself, its effect on a shipped prior, and its bad settings."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from asmr_zoo.checkpoints import load_checkpoint
from asmr_zoo.envelope import EnvelopePrior, EnvelopeState, next_frame
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model, specialise
from asmr_zoo.guidance import MEMORY, TriggerGuidance

pytestmark = pytest.mark.usefixtures("one_thread")
CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
TRIGGERS = ["tapping_glass", "whispering", "massaging_bi_mic"]


def test_steer_tilts_by_the_log_odds_against_the_evidence_weighted_mixture() -> None:
    gen = torch.Generator().manual_seed(0)
    own, rivals = torch.randn(2, 5, generator=gen), torch.randn(2, 3, 5, generator=gen)
    guidance = TriggerGuidance.start(1.5, torch.zeros(3, 4), 2, 8)
    guidance.evidence = torch.tensor([[0.0, -1.0, -3.0], [-2.0, 0.0, 0.0]])
    steered = guidance.steer(own, rivals)
    log_own, log_rivals = own.log_softmax(-1), rivals.log_softmax(-1)
    weights = guidance.evidence.softmax(-1)
    mixture = (weights[..., None] * log_rivals.exp()).sum(1).log()  # sum_c w_c p(e | c), as probabilities
    assert torch.allclose(steered, log_own + 1.5 * (log_own - mixture), atol=1e-5)
    # the evidence gains the drawn level's log-probability under each rival, and decays once per frame
    drawn = torch.tensor([4, 1])
    before = guidance.evidence.clone()
    guidance.observe(drawn)
    assert torch.allclose(guidance.evidence, before + log_rivals[torch.arange(2), :, drawn])
    after = guidance.evidence.clone()
    guidance.end_frame()
    assert torch.allclose(guidance.evidence, MEMORY * after)


def test_the_tilt_raises_the_expected_log_odds_of_the_trigger() -> None:
    """Sampling from p~ instead of p can only raise the mean of log p(e | c) - log p_mix(e): what it steers by."""
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        own, rivals = torch.randn(1, 8, generator=gen) * 2, torch.randn(1, 4, 8, generator=gen) * 2
        guidance = TriggerGuidance.start(2.0, torch.zeros(4, 1), 1, 1)
        unguided = TriggerGuidance.start(0.0, torch.zeros(4, 1), 1, 1)
        odds = guidance.steer(own, rivals) - unguided.steer(own, rivals)  # s * log-odds
        before = (own.softmax(-1) * odds).sum()
        after = (guidance.steer(own, rivals).softmax(-1) * odds).sum()
        assert after >= before - 1e-6


def prior_draws(prior: EnvelopePrior, h: torch.Tensor, guidance: TriggerGuidance | None, frames: int, seed: int):
    env = EnvelopeState(*prior.start(h.shape[0]), h, guidance=guidance)
    gen = torch.Generator().manual_seed(seed)

    def pick(logits: torch.Tensor) -> torch.Tensor:
        return torch.multinomial(logits.softmax(-1), 1, generator=gen)[:, 0]

    with torch.no_grad():
        for _ in range(frames):
            next_frame(prior, env, pick)
    return torch.stack(env.track, 1)


@pytest.mark.parametrize("bands", [1, 4])
def test_guidance_is_off_at_scale_0_and_against_the_trigger_itself(bands) -> None:
    torch.manual_seed(0)
    prior = EnvelopePrior(levels=12, hidden=16, cond_channels=3, bands=bands).eval()
    h = torch.randn(2, 3)
    plain = prior_draws(prior, h, None, 30, seed=5)
    at_zero = prior_draws(prior, h, TriggerGuidance.start(0.0, torch.randn(4, 3), 2, 16), 30, seed=5)
    assert torch.equal(plain, at_zero)
    # one rival, the asked conditioning itself: p(e | c) / p_mix(e) = 1 whatever the scale (each clip alone)
    for clip in range(2):
        alone = TriggerGuidance.start(8.0, h[clip : clip + 1], 1, 16)
        own = prior_draws(prior, h[clip : clip + 1], alone, 30, seed=7)
        assert torch.equal(own, prior_draws(prior, h[clip : clip + 1], None, 30, seed=7))
    # a real tilt changes the draws
    tilted = prior_draws(prior, h, TriggerGuidance.start(4.0, torch.randn(4, 3), 2, 16), 30, seed=5)
    assert not torch.equal(plain, tilted)


def test_guidance_keeps_massaging_out_of_its_empty_bands_on_a_shipped_prior() -> None:
    """The shipped concat band WaveRNN's prior, free-running for massaging_bi_mic, fills bands 3-4 (1-2 kHz)
    that real massaging leaves at the floor in 92-100% of frames; guidance keeps more of them empty."""
    model = load_checkpoint(CHECKPOINTS / "wavernn-concat-bands-ss.safetensors").eval()
    cond = model.conditioner.encode(["massaging_bi_mic"] * 6)
    shares = {}
    for scale in (0.0, 4.0):
        model.use_guidance(scale)
        state = model.init_state(6, cond)
        assert (state.envelope.guidance is None) == (scale == 0)
        tracks = prior_draws(model.frame_prior(), state.envelope.h, state.envelope.guidance, 400, seed=0)
        shares[scale] = (tracks[..., 3:5] == 0).float().mean().item()
    assert shares[4.0] > shares[0.0] + 0.1, shares


def test_bad_guidance_settings_say_what_to_do() -> None:
    config = {"envelope_levels": 12, "envelope_hidden": 16, "envelope_guidance": 2.0, "sample_rate": 16000}
    with pytest.raises(UsageError, match=r"envelope_guidance 2\.0 steers a conditioned model's envelope prior"):
        build_model("wavernn", "none", [], config, preset="tiny")
    with pytest.raises(UsageError, match="no such prior"):
        build_model("wavenet", "global", TRIGGERS, {"envelope_guidance": 1.0}, preset="tiny")
    model = build_model("wavenet", "global", TRIGGERS, config, preset="tiny")
    for bad in (-1.0, math.nan, math.inf, 21.0):
        with pytest.raises(UsageError, match=r"--guidance must be a number in \[0, 20\]"):
            model.use_guidance(bad)
    assert model.config.envelope_guidance == 2.0
    # a per-trigger model folded from a guided one has no rival to steer against: it is built unguided
    folded = specialise(model, "whispering")
    assert folded.config.envelope_guidance == 0 and dataclasses.replace(model.config, envelope_guidance=0.0) == (
        folded.config
    )
    with pytest.raises(UsageError, match="has none: drop it"):
        folded.use_guidance(1.0)


@pytest.mark.parametrize(
    ("checkpoint", "guidance", "message"),
    [
        ("wavenet-global", "2", "this wavenet (global) has none: drop it"),
        ("wavernn-concat-bands-ss", "-0.5", "--guidance must be a number in [0, 20] (0: off), got -0.5"),
        ("wavernn-concat-bands-ss", "inf", "--guidance must be a number in [0, 20] (0: off), got inf"),
    ],
)
def test_eval_guidance_bad_inputs_are_one_line(cli, checkpoint, guidance, message) -> None:
    path = CHECKPOINTS / f"{checkpoint}.safetensors"
    result = cli("eval", str(path), "--data", "data", "--guidance", guidance)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and message in lines[0], result.stderr
    assert not result.stdout
