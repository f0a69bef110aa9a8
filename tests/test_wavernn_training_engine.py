"""The C training recurrence (``train_engine=native``) computes what the torch reference computes: the same
teacher-forced logits and the same gradient for every parameter, for every conditioner, on random and on
shipped (trained) weights; and without a compiler ``auto`` falls back while ``native`` says why."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asmr_zoo.checkpoints import load_checkpoint
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.plugins import get_zoo
from asmr_zoo_wavernn.model import _cell
from asmr_zoo_wavernn.recurrence import recurrence

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
VOCAB = ["tapping_glass", "whispering", "brushing_mic"]


def loss_and_grads(model, codes, cond, engine):
    model.config.train_engine = engine
    model.zero_grad(set_to_none=True)
    logits = model(codes, cond)
    loss = model.loss_from_logits(logits, codes)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), loss.item(), grads


def assert_engines_agree(model, codes, cond, tolerance):
    ref_logits, ref_loss, ref_grads = loss_and_grads(model, codes, cond, "torch")
    logits, loss, grads = loss_and_grads(model, codes, cond, "native")
    assert model.train_engine(codes) == "native"
    assert torch.allclose(logits, ref_logits, atol=tolerance, rtol=0)
    assert loss == pytest.approx(ref_loss, abs=tolerance)
    assert grads.keys() == ref_grads.keys() and len(grads) == len(list(model.parameters()))
    for name, grad in grads.items():
        scale = ref_grads[name].abs().max().item() + 1e-12
        assert (grad - ref_grads[name]).abs().max().item() <= tolerance * max(1.0, scale), name


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    """The C loop splits the units over torch's thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("conditioner", ["none", "gate-bias", "concat"])
@pytest.mark.parametrize("hidden", [20, 64])  # 20: columns that do not fill a register tile
def test_native_recurrence_matches_torch_on_random_weights(conditioner, hidden, threads):
    torch.manual_seed(0)
    vocab = [] if conditioner == "none" else VOCAB
    model = build_model("wavernn", conditioner, vocab, {"hidden": hidden, "cond_dim": 8})
    codes = torch.randint(0, 256, (11, 40, 2), generator=torch.Generator().manual_seed(1))  # 11: 8 + 3 clips
    cond = torch.arange(11) % 3 if vocab else None
    assert_engines_agree(model, codes, cond, 1e-4)


@pytest.mark.parametrize("name", ["wavernn-gate-bias", "wavernn-concat", "wavernn-none-tapping-glass"])
def test_native_recurrence_matches_torch_on_shipped_weights(name, threads):
    model = load_checkpoint(CHECKPOINTS / f"{name}.safetensors", zoo=get_zoo())
    codes = torch.randint(0, 256, (4, 300, 2), generator=torch.Generator().manual_seed(2))
    vocabulary = list(model.conditioner.vocabulary)
    cond = torch.arange(4) % len(vocabulary) if vocabulary else None
    assert_engines_agree(model, codes, cond, 2e-4)


def test_recurrence_gradients_match_float64_autograd():
    torch.manual_seed(0)
    batch, steps, hidden = 3, 30, 16
    leaves = [
        torch.randn(batch, steps, 3 * hidden, dtype=torch.float64),
        torch.randn(batch, 3 * hidden, dtype=torch.float64),
        torch.randn(3 * hidden, hidden, dtype=torch.float64) * 0.3,
        torch.randn(batch, hidden, dtype=torch.float64),
    ]
    gi, bias, weight, h0 = (t.requires_grad_() for t in leaves)
    upstream = torch.randn(batch, steps, hidden, dtype=torch.float64)
    h, states = h0, []
    for g in gi.unbind(1):
        h = _cell(g, torch.addmm(bias, h, weight.t()), h)
        states.append(h)
    torch.autograd.backward(torch.stack(states, 1), upstream)
    expected = [t.grad.clone() for t in (gi, bias, weight, h0)]
    for t in (gi, bias, weight, h0):
        t.grad = None
    out = recurrence(*(t.float() for t in (gi, bias, weight, h0)))
    assert torch.allclose(out.double(), torch.stack(states, 1), atol=1e-5)
    torch.autograd.backward(out, upstream.float())
    for want, leaf in zip(expected, (gi, bias, weight, h0), strict=True):
        assert torch.allclose(leaf.grad, want, atol=1e-4 * (1 + want.abs().max().item()))


def test_bad_train_engine_is_a_clear_error():
    with pytest.raises(UsageError, match="train_engine must be one of auto, native, torch"):
        build_model("wavernn", "none", [], {"hidden": 8, "train_engine": "gpu"})
    model = build_model("wavernn", "none", [], {"hidden": 8, "train_engine": "native"}).double()
    with pytest.raises(UsageError, match="float32 CPU weights only"):
        model(torch.zeros(1, 4, 2, dtype=torch.long))


TRAIN_STEP = """
import warnings, torch
from asmr_zoo.factory import build_model
from asmr_zoo.errors import UsageError
model = build_model("wavernn", "none", [], {{"hidden": 16, "train_engine": "{engine}"}})
codes = torch.randint(0, 256, (2, 10, 2))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        model.loss_from_logits(model(codes), codes).backward()
    except UsageError as err:
        print("error:", err)
    else:
        print(model.train_engine(codes), [str(w.message) for w in caught])
"""


def test_without_a_compiler_auto_trains_with_torch_and_native_says_why(without_compiler):
    outputs = without_compiler(TRAIN_STEP)
    assert outputs["auto"].startswith("torch [") and "slower torch recurrence" in outputs["auto"]
    assert outputs["native"] == (
        "error: train_engine=native: no C compiler 'no-such-cc' on PATH (set CC, or install gcc or clang); "
        "or use train_engine=torch"
    )
