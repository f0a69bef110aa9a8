"""The envelope variant of WaveRNN (the frame-rate loudness prior + local conditioning of every gate):
incremental generation against the teacher-forced pass, the fused C and TorchScript loops against ``step``,
the training crop, the two-part loss and its gradients, both training recurrences, save/load."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from asmr_zoo.checkpoints import load_checkpoint, save_checkpoint
from asmr_zoo.envelope import EnvelopeLogits, local_inputs
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.plugins import get_zoo
from asmr_zoo.sampling import pick_with_policy
from asmr_zoo_wavernn.fused import conditioning_terms

pytestmark = pytest.mark.usefixtures("one_thread")
CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
TRIGGERS = ["tapping_glass", "whispering"]
HOP = 160  # 16 kHz: 10 ms frames


def tiny(conditioner: str = "gate-bias", **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    vocabulary = [] if conditioner == "none" else TRIGGERS
    config = {"envelope_levels": 12, "envelope_hidden": 16, "sample_rate": 16000, "hidden": 32, **overrides}
    return build_model("wavernn", conditioner, vocabulary, config, preset="tiny").eval()


def cond_for(model, batch: int) -> torch.Tensor | None:
    return torch.arange(batch) % len(TRIGGERS) if model.conditioned else None


def codes_for(batch: int, steps: int) -> torch.Tensor:
    """16-bit codes with a real loudness contour: noise under a slow swell."""
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(steps) / 16000
    wav = 0.5 * torch.sin(2 * math.pi * 3 * t) ** 2 * torch.randn(batch, steps, generator=gen).clamp(-2, 2) / 2
    return get_zoo().load("codecs", "pcm16")().encode(wav)  # (B, T, 2)


@pytest.mark.parametrize(
    ("conditioner", "bands", "loudness"), [("none", 1, 0), ("gate-bias", 3, 0), ("concat", 3, 0), ("concat", 3, 20)]
)
def test_step_by_step_generation_matches_the_teacher_forced_pass(conditioner, bands, loudness) -> None:
    model = tiny(conditioner, envelope_bands=bands, envelope_loudness=loudness)
    samples, frames = stepped_against_teacher_forced(model, codes_for(2, 2 * HOP + 29), cond_for(model, 2))
    assert samples < 1e-4 and frames < 1e-4


def stepped_against_teacher_forced(model, codes: torch.Tensor, cond: torch.Tensor | None) -> tuple[float, float]:
    """The largest differences of ``step``'s sample and frame logits, the codes and frames forced to the
    audio's own, from the teacher-forced pass's."""
    with torch.no_grad():
        out = model(codes, cond)
        assert isinstance(out, EnvelopeLogits) and out.offset == 0
        levels = iter(out.levels.flatten(1).unbind(1))  # frame by frame, band by band
        frame_logits, step_logits, t = [], [], 0

        def forced(logits: torch.Tensor, head: int) -> torch.Tensor:
            if head == 2:
                frame_logits.append(logits)
                return next(levels)
            return codes[:, t, head]

        batch = codes.shape[0]
        state, prev = model.init_state(batch, cond), torch.tensor(model.codec.silence).expand(batch, 2)
        for t in range(codes.shape[1]):  # noqa: B007 (``forced`` reads t)
            prev, logits, state = model.step(prev, state, forced)
            step_logits.append(logits)
    samples = (torch.stack(step_logits, 1) - out.samples).abs().max()
    return float(samples), float((torch.stack(frame_logits, 1) - out.frames.flatten(1, 2)).abs().max())


@pytest.mark.parametrize("engine", ["native", "torchscript"])
@pytest.mark.parametrize(
    ("conditioner", "loudness", "guidance"),
    [("none", 0, 0.0), ("concat", 0, 0.0), ("concat", 20, 0.0), ("concat", 20, 3.0)],
)
def test_fused_loops_generate_what_step_generates(engine, conditioner, loudness, guidance) -> None:
    model = tiny(
        conditioner,
        envelope_bands=3,
        envelope_loudness=loudness,
        envelope_guidance=guidance,
        fast_weights="fp32",
        fast_engine=engine,
    )
    cond, steps = cond_for(model, 2), 3 * HOP + 11
    greedy = SamplingPolicy(greedy=True)
    with torch.no_grad():
        fused = model.generate_fast(steps, model.init_state(2, cond), greedy)
        state, prev, stepped = model.init_state(2, cond), torch.tensor(model.codec.silence).expand(2, 2), []
        for _ in range(steps):
            prev, _, state = model.step(prev, state, lambda logits, head: logits.argmax(-1))
            stepped.append(prev)
    assert torch.equal(fused, torch.stack(stepped, 1))


def test_training_crop_gives_the_logits_of_the_crop_alone() -> None:
    model = tiny(sample_window=300).train()
    codes, cond = codes_for(2, 1100), torch.tensor([1, 0])
    out = model(codes, cond)
    assert out.samples.shape[1] == 300 and 0 < out.offset <= 800
    assert out.levels.shape == (2, 7, 1)  # the prior still covers the whole window
    with torch.no_grad():
        feats, gh_bias = model._conditioning(cond, 2)
        local = local_inputs(out.levels, 12, HOP, 1100)[:, out.offset : out.offset + 300]
        alone = model._sample_logits(codes[:, out.offset : out.offset + 300], feats, gh_bias, local)
    assert (out.samples.detach() - alone).abs().max() < 1e-4


@pytest.mark.parametrize(("engine", "loudness"), [("native", 0), ("torch", 0), ("native", 20)])
def test_loss_is_a_two_part_code_length_and_reaches_every_parameter(engine, loudness) -> None:
    model = tiny("concat", envelope_bands=3, envelope_loudness=loudness, train_engine=engine).train()
    codes, cond = codes_for(2, 500), torch.tensor([0, 1])
    out = model(codes, cond)
    loss = model.loss_from_logits(out, codes)
    samples = torch.nn.functional.cross_entropy(out.samples.reshape(-1, 256), codes.reshape(-1)) * 2
    assert torch.allclose(loss, samples + out.frame_nats() / 1000)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_both_training_recurrences_give_the_same_loss_and_gradients() -> None:
    results = []
    for engine in ("native", "torch"):
        model = tiny("gate-bias", envelope_bands=3, train_engine=engine).train()
        codes, cond = codes_for(2, 400), torch.tensor([0, 1])
        loss = model.loss_from_logits(model(codes, cond), codes)
        loss.backward()
        results.append((loss.detach(), model.gru.weight_ih_l0.grad.clone()))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-4)


def test_save_load_round_trip_and_seeded_generation(tmp_path) -> None:
    model = tiny(envelope_bands=3)
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
    assert len(runs[0].unique()) > 10  # a real random walk, not silence


@pytest.mark.parametrize(
    "name",
    [
        "wavernn-gate-bias-envelope",
        "wavernn-gate-bias-bands",
        "wavernn-gate-bias-bands-long",
        "wavernn-concat-envelope",
        "wavernn-concat-bands",
        "wavernn-concat-bands-long",
        "wavernn-concat-bands-ss",
    ],
)
def test_fused_cells_give_the_step_logits_on_shipped_weights(name) -> None:
    """On trained weights, along a path ``step`` generates (frames drawn by the prior): the C and TorchScript
    fp32 cells, teacher-forced one frame per call with that frame's biases, give the logits ``step`` gave."""
    model = load_checkpoint(CHECKPOINTS / f"{name}.safetensors", zoo=get_zoo()).eval()
    cond, frames = torch.tensor([0, 6]), 4
    pick = SamplingPolicy(generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        state, prev = model.init_state(2, cond), torch.tensor(model.codec.silence).expand(2, 2)
        codes, logits, frame_states = [], [], []
        for t in range(frames * model.hop):
            prev, out, state = model.step(prev, state, lambda lg, head: pick_with_policy(lg, pick))
            if t % model.hop == 0:
                frame_states.append(state)  # the gate biases of this frame (V_y y_k drawn)
            codes.append(prev)
            logits.append(out)
        codes, logits = torch.stack(codes, 1), torch.stack(logits, 1)
        for engine in ("native", "torchscript"):
            cell = model.fused_cell(precision="fp32", engine=engine)
            h, last, fused = model.init_state(2, cond).h.clone(), torch.tensor(model.codec.silence).repeat(2, 1), []
            for k, frame_state in enumerate(frame_states):
                forced = codes[:, k * model.hop : (k + 1) * model.hop]
                if engine == "native":
                    _, out = cell.run(h, last, cell.biases(frame_state), model.hop, forced=forced)
                else:
                    cond_g, cond_e = conditioning_terms(model, cell, frame_state)
                    empty = torch.empty(0, 2, 2, 256)
                    _, out, h = cell(h, last, cond_g, cond_e, empty, model.hop, 1.0, 0, 1.0, False, forced)
                last = forced[:, -1].clone()
                fused.append(out)
            assert (torch.cat(fused, 1) - logits).abs().max() < 1e-3, engine


def test_sample_batch_trains_the_sample_model_on_the_first_windows_and_the_prior_on_all() -> None:
    model = tiny("concat", sample_window=300, sample_batch=1).train()
    codes, cond = codes_for(3, 1100), torch.tensor([1, 0, 1])
    out = model(codes, cond)
    assert out.frames.shape[0] == 3 and out.samples.shape[:2] == (1, 300)
    with torch.no_grad():
        feats, gh_bias = model._conditioning(cond[:1], 1)
        local = local_inputs(out.levels[:1], 12, HOP, 1100)[:, out.offset : out.offset + 300]
        alone = model._sample_logits(codes[:1, out.offset : out.offset + 300], feats, gh_bias, local)
    assert (out.samples.detach() - alone).abs().max() < 1e-4
    loss = model.loss_from_logits(out, codes)
    target = codes[:1, out.offset : out.offset + 300]
    samples = torch.nn.functional.cross_entropy(out.samples.reshape(-1, 256), target.reshape(-1)) * 2
    assert torch.allclose(loss, samples + out.frame_nats() / (3 * 1100))


def test_step_by_step_generation_matches_the_teacher_forced_pass_on_shipped_band_weights() -> None:
    model = load_checkpoint(CHECKPOINTS / "wavernn-concat-bands-ss.safetensors", zoo=get_zoo()).eval()
    codes, cond = codes_for(2, 2 * HOP + 29), torch.tensor([0, 9])
    assert model.config.envelope_guidance == 4.0
    samples, _ = stepped_against_teacher_forced(model, codes, cond)
    assert samples < 1e-3  # given the frames, the sample model is the teacher-forced one, guided or not
    model.use_guidance(0)  # the prior's own distribution: guidance tilts the draws away from it on purpose
    samples, frames = stepped_against_teacher_forced(model, codes, cond)
    assert samples < 1e-3 and frames < 1e-3


def test_scheduled_sampling_feeds_the_prior_its_own_draws_as_history_only() -> None:
    model = tiny("gate-bias", envelope_bands=3)
    codes, cond = codes_for(4, 12 * HOP), torch.tensor([0, 1, 0, 1])
    levels = out_levels = model(codes, cond).levels
    feats, _ = model._conditioning(cond, 4)
    with torch.no_grad():
        forced = model.prior(levels, feats)
        torch.manual_seed(3)
        mixed = model.prior(levels, feats, sampled=0.9)
    assert torch.equal(model.prior(levels, feats, sampled=0.0), forced)
    # frame 0 reads only the start token and its own real earlier bands: the same either way
    assert (mixed[:, 0] - forced[:, 0]).abs().max() < 1e-6
    assert (mixed[:, 1:] - forced[:, 1:]).abs().amax(dim=(2, 3)).gt(1e-3).float().mean() > 0.5
    # the history is drawn, the targets and the frame's own bands are not: forcing history == levels again
    # gives the teacher-forced logits (``_logits`` is what both passes call)
    assert torch.allclose(model.prior._logits(levels, out_levels, feats), forced)


def test_envelope_sampled_is_training_only() -> None:
    codes, cond = codes_for(2, 6 * HOP), torch.tensor([0, 1])
    plain, sampled = tiny("concat", envelope_bands=3), tiny("concat", envelope_bands=3, envelope_sampled=0.5)
    with torch.no_grad():
        assert torch.equal(plain(codes, cond).frames, sampled(codes, cond).frames)  # eval: teacher-forced
        torch.manual_seed(0)
        trained = sampled.train()(codes, cond).frames
    assert not torch.allclose(trained, plain(codes, cond).frames)
    with pytest.raises(UsageError, match=r"envelope_sampled .* must be in \[0, 1\), got 1.0"):
        tiny("concat", envelope_bands=3, envelope_sampled=1.0)


@pytest.mark.parametrize("model_name", ["wavernn", "wavenet"])
def test_training_the_prior_alone_leaves_every_other_weight_as_it_was(tmp_path, model_name) -> None:
    from asmr_zoo.training import Clip, TrainConfig, train

    config = {"envelope_levels": 12, "envelope_hidden": 16, "envelope_bands": 3, "envelope_sampled": 0.5}
    torch.manual_seed(0)
    model = build_model(model_name, "gate-bias" if model_name == "wavernn" else "global", TRIGGERS, config, "tiny")
    codec = model.codec
    clips = [Clip(codec.encode(torch.randn(4000) * 0.1 * (i + 1)), TRIGGERS[i % 2], f"v{i}") for i in range(4)]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=3, batch_size=2, window=2 * HOP, eval_every=3, checkpoint_every=3, parts="prior")
    train(model, cfg, clips, clips[:2], tmp_path / "m.safetensors")
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("prior.") for k in changed)
    assert len(changed) == len([k for k in before if k.startswith("prior.")])  # every prior weight learns
