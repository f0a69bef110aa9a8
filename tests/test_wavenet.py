"""WaveNet plugin: causality and receptive field, cached generation against the full forward pass,
gradients, checkpoints, global conditioning, and the sampling of the fused generation loop."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from asmr_zoo.checkpoints import load_checkpoint, save_checkpoint
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.plugins import get_zoo
from asmr_zoo.sampling import AncestralSampler, filter_logits, pick_with_policy
from asmr_zoo_wavenet.model import generate_naive, sample

TRIGGERS = ["tapping_glass", "whispering"]
CONDITIONINGS = [("none", []), ("global", TRIGGERS)]
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(conditioner: str = "global", **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    vocabulary = TRIGGERS if conditioner == "global" else []
    return build_model("wavenet", conditioner, vocabulary, overrides, preset="tiny").eval()


def cond_for(model, batch: int) -> torch.Tensor | None:
    if not model.conditioner.conditioned:
        return None
    return torch.arange(batch) % len(model.conditioner)


def test_plugin_registers_without_importing_torch():
    zoo = get_zoo()
    assert zoo.component("models", "wavenet").plugin == "wavenet"
    assert zoo.component("conditioners", "global").plugin == "wavenet"
    code = "import sys, asmr_zoo_wavenet.plugin; assert 'torch' not in sys.modules, 'plugin imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_receptive_field_by_gradient():
    """Convention: forward(codes) shifts its input itself (logits[:, t] predicts codes[:, t] from the
    past), so in terms of the codes passed to forward, logits[:, t] depends on codes[:, t - RF .. t - 1]:
    the network input x[t] = codes[t - 1] enters at x[t - RF + 1 .. t]."""
    model = tiny(layers=3, stacks=2, input_encoding="onehot", input_channels=256)
    rf = model.receptive_field
    assert rf == 2 + 2 * (1 + 2 + 4)  # input conv (kernel 2) + two stacks of dilations 1, 2, 4
    t, length = rf + 7, rf + 20
    captured = {}

    def make_leaf(module, args):  # the one-hot inputs (B, 256, 1 + T), zero-padded once on the left
        captured["x"] = args[0].detach().requires_grad_(True)
        return (captured["x"],)

    handle = model.input_conv.register_forward_pre_hook(make_leaf)
    codes = torch.randint(0, 256, (1, length, 1))
    model(codes, cond_for(model, 1))[0, t].sum().backward()
    handle.remove()
    touched = captured["x"].grad[0].abs().sum(dim=0).nonzero().flatten() - 2  # padded index j = code j - 2
    assert touched.tolist() == list(range(t - rf, t))


@pytest.mark.parametrize(
    ("conditioner", "encoding"), [("none", "embedding"), ("global", "embedding"), ("global", "onehot")]
)
def test_cached_generation_equals_forward(conditioner, encoding):
    overrides = {"input_encoding": encoding, "input_channels": 256 if encoding == "onehot" else 8}
    model = tiny(conditioner, **overrides)
    batch, steps = 3, 3 * model.receptive_field + 5  # long enough for every queue to wrap around
    cond = cond_for(model, batch)
    policy = SamplingPolicy(temperature=1.3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        state = model.init_state(batch, cond)
        prev = torch.full((batch, 1), model.codec.silence[0])
        codes, logits = [], []
        for _ in range(steps):
            prev, step_logits, state = model.step(prev, state, lambda lg, head: pick_with_policy(lg, policy))
            codes.append(prev)
            logits.append(step_logits)
        codes, logits = torch.stack(codes, dim=1), torch.stack(logits, dim=1)
        assert len(codes.unique()) > 50  # a real random walk, not a constant sequence
        full = model(codes, cond)
    assert full.shape == logits.shape == (batch, steps, 1, 256)
    assert (full - logits).abs().max() < 1e-4


@pytest.mark.parametrize(("conditioner", "vocabulary"), CONDITIONINGS)
def test_naive_and_cached_generation_agree(conditioner, vocabulary):
    model = tiny(conditioner)
    batch, steps = 2, model.receptive_field + 10
    cond = cond_for(model, batch)
    # greedy: the fused loop (generate_fast) against the naive reference
    naive, _ = generate_naive(model, steps, cond, SamplingPolicy(greedy=True), batch=batch)
    with torch.no_grad():
        fast = model.generate_fast(steps, model.init_state(batch, cond), SamplingPolicy(greedy=True))
    assert torch.equal(fast, naive)
    # seeded ancestral sampling: step + pick_with_policy draws exactly what the naive reference draws
    seeded = [SamplingPolicy(temperature=0.9, top_p=0.95, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    naive, _ = generate_naive(model, steps, cond, seeded[0], batch=batch)
    with torch.no_grad():
        state, cached = model.init_state(batch, cond), []
        prev = torch.full((batch, 1), model.codec.silence[0])
        for _ in range(steps):
            prev, _, state = model.step(prev, state, lambda lg, head: pick_with_policy(lg, seeded[1]))
            cached.append(prev)
    assert torch.equal(torch.stack(cached, dim=1), naive)


def test_fused_sampling_draws_from_the_policy_distribution():
    torch.manual_seed(0)
    logits = torch.randn(256) * 2
    for policy in [SamplingPolicy(temperature=0.7), SamplingPolicy(top_k=6), SamplingPolicy(top_p=0.8)]:
        policy.generator = torch.Generator().manual_seed(3)
        draws = 40_000
        picked = sample(logits.expand(draws, -1), policy)
        freq = torch.bincount(picked, minlength=256).float() / draws
        expected = torch.softmax(filter_logits(logits[None], policy)[0], dim=-1)
        assert freq[expected == 0].sum() == 0  # filtered classes are never drawn
        assert (freq - expected).abs().max() < 6 * math.sqrt(0.25 / draws)
    greedy = SamplingPolicy(greedy=True)
    assert torch.equal(sample(logits.expand(4, -1), greedy), pick_with_policy(logits.expand(4, -1), greedy))


def test_sampler_generates_batched_seeded_clips():
    model = tiny("global")
    cond = torch.tensor([0, 1, 1, 0])
    first = AncestralSampler(seed=7).generate(model, 50, cond)
    again = AncestralSampler(seed=7).generate(model, 50, cond)
    other = AncestralSampler(seed=8).generate(model, 50, cond)
    assert first.shape == (4, 50) and first.abs().max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_every_parameter_is_registered_and_gets_a_gradient():
    model = tiny("global").train()
    blocks = {key.split(".")[1] for key in model.state_dict() if key.startswith("blocks.")}
    assert len(blocks) == model.config.layers * model.config.stacks == len(model.blocks)
    codes = torch.randint(0, 256, (2, 100, 1))
    model.loss(codes, torch.tensor([0, 1])).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert model.trigger_embedding.weight.grad.abs().sum(dim=1).min() > 0  # both triggers' rows


@pytest.mark.parametrize(("conditioner", "vocabulary"), CONDITIONINGS)
def test_checkpoint_round_trip(tmp_path, conditioner, vocabulary):
    torch.manual_seed(0)
    model = build_model("wavenet", conditioner, vocabulary, {"residual_channels": 16}, preset="tiny").eval()
    path = tmp_path / "wavenet.safetensors"
    save_checkpoint(path, model)
    loaded = load_checkpoint(path, expect={"model": "wavenet", "conditioner": conditioner})
    assert loaded.config == model.config and loaded.config.residual_channels == 16
    assert loaded.conditioner.vocabulary == tuple(vocabulary)
    codes, cond = torch.randint(0, 256, (2, 64, 1)), cond_for(model, 2)
    with torch.no_grad():
        assert torch.equal(loaded(codes, cond), model(codes, cond))


def test_global_conditioning_changes_the_output():
    model = tiny("global")
    codes = torch.randint(0, 256, (1, 64, 1)).expand(2, -1, -1)
    with torch.no_grad():
        logits = model(codes, torch.tensor([0, 1]))
    assert (logits[0] - logits[1]).abs().max() > 1e-3
    assert model.trigger_embeddings().shape == (2, model.config.cond_channels)
    assert tiny("none").trigger_embeddings() is None


def test_conditioning_input_is_checked():
    with pytest.raises(UsageError, match="global conditioning needs one trigger"):
        tiny("global")(torch.zeros(2, 8, 1, dtype=torch.long))
    with pytest.raises(UsageError, match=r"cond must be trigger indices \(batch,\) in \[0, 2\)"):
        tiny("global")(torch.zeros(1, 8, 1, dtype=torch.long), torch.tensor([5]))
    with pytest.raises(UsageError, match=r"blend weights must have shape \(batch, 2\)"):
        tiny("global")(torch.zeros(1, 8, 1, dtype=torch.long), torch.ones(1, 3) / 3)
    with pytest.raises(UsageError, match="unconditioned"):
        tiny("none").init_state(1, torch.tensor([0]))
    with pytest.raises(UsageError, match="one-hot input has 256 channels"):
        tiny("none", input_encoding="onehot", input_channels=8)


def test_presets():
    paper = build_model("wavenet", "global", TRIGGERS, preset="paper")
    assert 72e6 < sum(p.numel() for p in paper.parameters()) < 74e6
    assert paper.receptive_field == 2 + 5 * 1023 and paper.config.window == 32000
    small = build_model("wavenet")
    assert small.config == build_model("wavenet", preset="small").config and small.sample_rate == 16000


def synthetic(trigger: str, seconds: float, generator: torch.Generator) -> torch.Tensor:
    """tapping_glass: a low sine with a random phase; whispering: bursts of noise."""
    n = int(16000 * seconds)
    t = torch.arange(n) / 16000
    if trigger == "tapping_glass":
        return 0.6 * torch.sin(2 * math.pi * 220 * t + 6.3 * torch.rand(1, generator=generator))
    bursts = (torch.rand(n // 400, generator=generator) < 0.5).float().repeat_interleave(400)
    return 0.4 * torch.randn(n, generator=generator) * bursts


def test_trained_model_prefers_the_right_trigger():
    model = tiny("global").train()
    codec, gen = model.codec, torch.Generator().manual_seed(0)
    train = [codec.encode(synthetic(trigger, 2.0, gen)) for trigger in TRIGGERS]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    window, per_trigger = 128, 8
    for _ in range(80):
        starts = torch.randint(0, train[0].shape[0] - window, (2, per_trigger), generator=gen)
        codes = torch.stack([train[k][s : s + window] for k in range(2) for s in starts[k].tolist()])
        loss = model.loss(codes, torch.arange(2).repeat_interleave(per_trigger))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    test = torch.stack([codec.encode(synthetic(trigger, 0.25, gen)) for trigger in TRIGGERS])
    with torch.no_grad():
        for k in range(2):
            right = model.loss(test[k : k + 1], torch.tensor([k]))
            swapped = model.loss(test[k : k + 1], torch.tensor([1 - k]))
            assert right < swapped - 0.1, TRIGGERS[k]  # nats per sample


@pytest.mark.parametrize("envelope_levels", [0, 16])
def test_activation_checkpointing_gives_the_same_loss_and_gradients(envelope_levels):
    codes = torch.randint(0, 256, (2, 300, 1), generator=torch.Generator().manual_seed(4))
    results = []
    for recompute in (False, True):
        model = tiny(envelope_levels=envelope_levels, checkpoint_activations=recompute).train()
        loss = model.loss_from_logits(model(codes, cond_for(model, 2)), codes)
        loss.backward()
        results.append((loss.item(), [p.grad for p in model.parameters()]))
    (plain, plain_grads), (recomputed, grads) = results
    assert recomputed == pytest.approx(plain, abs=1e-6)
    assert all(g is not None for g in grads) and len(grads) == len(plain_grads)
    for a, b in zip(plain_grads, grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
