"""WaveRNN plugin: the masked cell, causality, incremental == teacher-forced, checkpoints, conditioning,
and the fused generation loop's distribution."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from asmr_zoo.checkpoints import load_checkpoint, save_checkpoint
from asmr_zoo.errors import CheckpointError, UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.sampling import AncestralSampler, FoldedSampler, GreedySampler, filter_logits
from asmr_zoo_wavernn.fused import conditioning_terms

VOCAB = ["tapping_glass", "whispering"]
CONDITIONERS = ["none", "gate-bias", "concat"]
ENGINES = ["native", "torchscript"]


def make(conditioner: str, hidden: int = 32, **config) -> torch.nn.Module:
    torch.manual_seed(0)
    vocab = [] if conditioner == "none" else VOCAB
    return build_model("wavernn", conditioner, vocab, {"hidden": hidden, "cond_dim": 8, **config})


def cond_for(model, batch: int) -> torch.Tensor | None:
    return None if not model.conditioned else torch.arange(batch) % len(VOCAB)


def random_codes(batch: int = 2, steps: int = 24, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (batch, steps, 2), generator=torch.Generator().manual_seed(seed))


def forward_with_input_grad(model, codes, cond):
    """Teacher-forced logits and the scaled network input x (B, T, 3) = [c_{t-1}, f_{t-1}, c_t]."""
    captured = {}

    def scale(c):
        captured["x"] = model.codec.scale(c).requires_grad_()
        return captured["x"]

    model._scale = scale
    return model(codes, cond), captured["x"]


@pytest.mark.parametrize("conditioner", CONDITIONERS)
def test_mask_coarse_ignores_current_coarse_fine_sees_it(conditioner):
    model = make(conditioner)
    codes = random_codes()
    logits, x = forward_with_input_grad(model, codes, cond_for(model, 2))
    t = 10
    (grad_coarse,) = torch.autograd.grad(logits[:, t, 0].sum(), x, retain_graph=True)
    (grad_fine,) = torch.autograd.grad(logits[:, t, 1].sum(), x)
    assert torch.all(grad_coarse[:, t, 2] == 0)  # c_t does not reach the coarse head
    assert grad_coarse[:, t, :2].abs().sum() > 0
    assert torch.all(grad_fine[:, t, 2].abs() > 0)  # but reaches the fine head


def test_masked_input_entries_stay_zero_and_get_no_gradient():
    model = make("none")
    model.loss(random_codes()).backward()
    half = model.half
    grad = model.gru.weight_ih_l0.grad.view(3, 2, half, 3)
    assert torch.all(grad[:, 0, :, 2] == 0)
    assert grad[:, 1, :, 2].abs().sum() > 0


@pytest.mark.parametrize("conditioner", CONDITIONERS)
def test_causal(conditioner):
    model = make(conditioner)
    codes = random_codes(steps=20)
    cond = cond_for(model, 2)
    logits, x = forward_with_input_grad(model, codes, cond)
    t = 8
    (grad,) = torch.autograd.grad(logits[:, t].sum(), x)
    assert torch.all(grad[:, t + 1 :] == 0)
    assert grad[:, : t + 1].abs().sum() > 0
    changed = codes.clone()
    changed[:, t + 1 :] = torch.randint(0, 256, changed[:, t + 1 :].shape)
    changed[:, t, 1] = (codes[:, t, 1] + 100) % 256  # f_t predicts itself: must not be seen either
    with torch.no_grad():
        torch.testing.assert_close(model(changed, cond)[:, : t + 1], model(codes, cond)[:, : t + 1])


@pytest.mark.parametrize("conditioner", CONDITIONERS)
def test_incremental_matches_teacher_forced(conditioner):
    model = make(conditioner, hidden=48).eval()
    codes = random_codes(batch=3, steps=40)
    cond = cond_for(model, 3)
    with torch.no_grad():
        expected = model(codes, cond)
        state = model.init_state(3, cond)
        prev = torch.tensor(model.codec.silence).expand(3, 2)
        got = []
        for t in range(codes.shape[1]):
            prev, logits, state = model.step(prev, state, lambda lg, head, t=t: codes[:, t, head])
            got.append(logits)
            assert torch.equal(prev, codes[:, t])
    assert (torch.stack(got, dim=1) - expected).abs().max() < 1e-4


def test_step_picks_coarse_before_fine_is_computed():
    model = make("none").eval()
    order = []
    original = model.O3.forward

    def traced_o3(y):
        order.append("fine computed")
        return original(y)

    model.O3.forward = traced_o3

    def pick(logits, head):
        order.append(f"pick {head}")
        return logits.argmax(-1)

    with torch.no_grad():
        model.step(torch.tensor([model.codec.silence]), model.init_state(1), pick)
    assert order == ["pick 0", "fine computed", "pick 1"]


@pytest.mark.parametrize("conditioner", CONDITIONERS)
@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-4), ("bf16", 0.05), ("int8", 0.05)])
def test_fused_cell_matches_teacher_forced(conditioner, precision, tolerance):
    model = make(conditioner, hidden=48).eval()
    codes = random_codes(batch=2, steps=30)
    cond = cond_for(model, 2)
    with torch.no_grad():
        expected = model(codes, cond)
        cell = model.fused_cell(precision, engine="torchscript")
        state = model.init_state(2, cond)
        silence = torch.tensor(model.codec.silence).expand(2, 2)
        cond_g, cond_e = conditioning_terms(model, cell, state)
        _, logits, _ = cell(state.h, silence, cond_g, cond_e, torch.empty(0, 2, 2, 256), 30, 1.0, 0, 1.0, False, codes)
    assert (logits - expected).abs().max() < tolerance


@pytest.mark.parametrize("conditioner", CONDITIONERS)
def test_every_parameter_gets_a_gradient(conditioner):
    model = make(conditioner)
    model.loss(random_codes(), cond_for(model, 2)).backward()
    names = {name for name, _ in model.named_parameters()}
    if conditioner != "none":
        assert {"embedding.weight", "dense.weight", "dense.bias"} <= names
    if conditioner == "concat":
        assert "R_b" in names
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_loss_weights_coarse_and_fine():
    codes = random_codes()
    base, coarse_only = make("none"), make("none", coarse_weight=1.0, fine_weight=0.0)
    logits = base(codes)
    ce = torch.nn.functional.cross_entropy
    coarse = ce(logits[..., 0, :].reshape(-1, 256), codes[..., 0].reshape(-1))
    fine = ce(logits[..., 1, :].reshape(-1, 256), codes[..., 1].reshape(-1))
    torch.testing.assert_close(base.loss(codes), coarse + fine)
    torch.testing.assert_close(coarse_only.loss(codes), coarse)


@pytest.mark.parametrize("conditioner", CONDITIONERS)
def test_checkpoint_round_trip(tmp_path, conditioner):
    model = make(conditioner).eval()
    path = tmp_path / "wavernn.safetensors"
    save_checkpoint(path, model)
    loaded = load_checkpoint(path, expect={"model": "wavernn", "conditioner": conditioner})
    assert loaded.conditioner.vocabulary == model.conditioner.vocabulary
    codes, cond = random_codes(), cond_for(model, 2)
    with torch.no_grad():
        assert torch.equal(loaded(codes, cond), model(codes, cond))


def _rewrite(path, out, **meta_changes):
    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
    for key, value in meta_changes.items():
        meta[f"asmr_zoo.{key}"] = value
    save_file(load_file(str(path)), str(out), metadata=meta)


def test_gate_bias_weights_do_not_load_as_concat_or_other_hidden(tmp_path):
    model = make("gate-bias")
    path = tmp_path / "gb.safetensors"
    save_checkpoint(path, model)
    with pytest.raises(CheckpointError, match="conditioner is 'gate-bias', not 'concat'"):
        load_checkpoint(path, expect={"conditioner": "concat"})
    _rewrite(path, tmp_path / "as_concat.safetensors", conditioner="concat")
    with pytest.raises(CheckpointError, match="missing R_b"):
        load_checkpoint(tmp_path / "as_concat.safetensors")
    config = {**model.config_dict(), "hidden": 64}
    _rewrite(path, tmp_path / "wide.safetensors", config=json.dumps(config))
    with pytest.raises(CheckpointError, match=r"is \[96, 11\] in the file but the config makes it \[192, 11\]"):
        load_checkpoint(tmp_path / "wide.safetensors")


def test_bad_config_and_conditioning_are_clear_errors():
    with pytest.raises(UsageError, match="even"):
        make("none", hidden=33)
    with pytest.raises(UsageError, match="fast_weights"):
        make("none", fast_weights="fp8")
    with pytest.raises(UsageError, match="unconditioned"):
        make("none")(random_codes(), torch.tensor([0, 1]))
    with pytest.raises(UsageError, match="pass a trigger"):
        make("concat")(random_codes())


@pytest.mark.parametrize("conditioner", ["gate-bias", "concat"])
def test_different_triggers_give_different_logits(conditioner):
    model = make(conditioner)
    codes = random_codes(batch=1).expand(2, -1, -1)
    with torch.no_grad():
        logits = model(codes, torch.tensor([0, 1]))
    assert (logits[0] - logits[1]).abs().max() > 1e-3


def _two_triggers(batch: int, length: int, seed: int) -> torch.Tensor:
    """Clips of a quiet low sine (trigger 0) and of loud noise bursts (trigger 1), as codes."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 22050
    phase = torch.rand(batch, 1, generator=gen) * 2 * math.pi
    sine = 0.05 * torch.sin(2 * math.pi * 110 * t + phase)
    bursts = (torch.rand(batch, length, generator=gen) * 2 - 1) * 0.8 * ((torch.arange(length) // 40) % 2 == 0)
    from asmr_zoo_codecs.codecs import PCM16

    return PCM16().encode(torch.cat([sine, bursts]))


@pytest.mark.parametrize("conditioner", ["gate-bias", "concat"])
def test_conditioned_model_prefers_the_right_trigger(conditioner):
    model = make(conditioner, hidden=32)
    cond = torch.tensor([0] * 4 + [1] * 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(40):
        optimizer.zero_grad()
        model.loss(_two_triggers(4, 160, seed=step), cond).backward()
        optimizer.step()
    test = _two_triggers(4, 160, seed=1000)
    with torch.no_grad():
        right, swapped = model.loss(test, cond), model.loss(test, 1 - cond)
    assert right < swapped - 0.1


def test_generation_starts_from_silence_and_honours_seed_and_batch():
    model = make("gate-bias", fast_weights="fp32").eval()
    cond = torch.tensor([0, 1, 1])
    first = AncestralSampler(seed=3).generate_codes(model, 50, cond)
    again = AncestralSampler(seed=3).generate_codes(model, 50, cond)
    other = AncestralSampler(seed=4).generate_codes(model, 50, cond)
    assert first.shape == (3, 50, 2) and torch.equal(first, again) and not torch.equal(first, other)
    # the first sample is drawn after silence: it matches step() from the codec's silence
    with torch.no_grad():
        state = model.init_state(3, cond)
        _, logits, _ = model.step(torch.tensor(model.codec.silence).expand(3, 2), state, lambda lg, h: lg.argmax(-1))
    greedy = GreedySampler().generate_codes(model, 1, cond)
    assert torch.equal(greedy[:, 0, 0], logits[:, 0].argmax(-1))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("conditioner", CONDITIONERS)
def test_fused_greedy_equals_step_loop(conditioner, engine):
    model = make(conditioner, hidden=48, fast_weights="fp32", fast_engine=engine).eval()
    cond = cond_for(model, 2)
    fused = GreedySampler(batch=2).generate_codes(model, 60, cond)
    with torch.no_grad():
        state, prev, codes = model.init_state(2, cond), torch.tensor(model.codec.silence).expand(2, 2), []
        for _ in range(60):
            prev, _, state = model.step(prev, state, lambda lg, head: lg.argmax(-1))
            codes.append(prev)
    assert torch.equal(fused, torch.stack(codes, dim=1))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "policy", [SamplingPolicy(), SamplingPolicy(temperature=0.5), SamplingPolicy(top_k=5), SamplingPolicy(top_p=0.6)]
)
def test_fused_sampling_draws_from_the_policy_distribution(policy, engine):
    model = make("none", hidden=32, fast_weights="fp32", fast_engine=engine).eval()
    with torch.no_grad():  # a peaked coarse distribution, so 6000 draws measure it well
        model.O2.weight.zero_()
        model.O2.bias.copy_(torch.randn(256, generator=torch.Generator().manual_seed(0)) * 3)
        batch = 6000
        policy.generator = torch.Generator().manual_seed(0)
        codes = model.generate_fast(1, model.init_state(batch), policy)
        _, logits, _ = model.step(torch.tensor([model.codec.silence]), model.init_state(1), lambda lg, h: lg.argmax(-1))
    expected = torch.softmax(filter_logits(logits[:, 0], policy), dim=-1)[0]
    observed = torch.bincount(codes[:, 0, 0], minlength=256).float() / batch
    assert observed[expected == 0].sum() == 0
    assert 0.5 * (observed - expected).abs().sum() < 0.05  # total variation distance


def test_folded_sampler_and_progress():
    model = make("concat", fast_weights="int8").eval()
    seen = []
    wav = FoldedSampler(seed=0, fold_length=100, overlap=20).generate(
        model, 300, torch.tensor([1]), progress=lambda done, total: seen.append((done, total))
    )
    assert wav.shape == (1, 300) and torch.isfinite(wav).all()
    assert seen and seen[-1] == (100, 100)


def test_plugin_registers_without_importing_torch():
    code = (
        "import sys, asmr_zoo_wavernn.plugin as p; names = []\n"
        "p.register_models(lambda *a: names.append(a[0])); p.register_conditioners(lambda *a: names.append(a[0]))\n"
        "assert names == ['wavernn', 'gate-bias', 'concat'], names\n"
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
