"""WaveNet's C generation loop against the torch cached loop (``step_logits``): the same logits and greedy
codes on random and shipped weights, envelope variant included; its sampling draws from the policy's
distribution; ``auto`` picks and falls back as documented; int8 weights stay within a KL bound of fp32."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from asmr_zoo.checkpoints import load_checkpoint
from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.plugins import get_zoo
from asmr_zoo.sampling import filter_logits
from asmr_zoo_wavenet import model as wavenet_model
from asmr_zoo_wavenet import native
from asmr_zoo_wavenet.model import NATIVE_BATCH
from asmr_zoo_wavenet.native import NativeRun, quantize_columns

pytestmark = pytest.mark.usefixtures("one_thread")
CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
TRIGGERS = ["tapping_glass", "whispering"]


def tiny(conditioner: str = "global", **overrides):
    torch.manual_seed(0)
    vocabulary = TRIGGERS if conditioner == "global" else []
    return build_model("wavenet", conditioner, vocabulary, overrides, preset="tiny").eval()


def cond_for(model, batch: int) -> torch.Tensor | None:
    return torch.arange(batch) % len(model.conditioner) if model.conditioner.conditioned else None


@torch.no_grad()
def torch_logits_along(model, codes: torch.Tensor, cond) -> torch.Tensor:
    """The torch cached loop's logits ``(B, T, 256)`` when it is fed ``codes (B, T)`` (teacher forcing)."""
    state = model.init_state(codes.shape[0], cond)
    code = torch.full((codes.shape[0],), model.silence_code)
    logits = []
    for t in range(codes.shape[1]):
        logits.append(model.step_logits(code, state))
        code = codes[:, t]
    return torch.stack(logits, 1)


@torch.no_grad()
def native_sampled(model, batch: int, steps: int, cond, threads: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes ``(B, steps)`` the C loop draws (temperature 1, seeded) and its logits ``(B, steps, 256)``; in
    two calls, so that the state carried between calls is tested too."""
    run = NativeRun(model, model.init_state(batch, cond), threads)
    logits = torch.empty(batch, steps, 256)
    policy = SamplingPolicy(generator=torch.Generator().manual_seed(1))
    first = run.run(torch.full((batch,), model.silence_code), steps // 2, policy, logits[:, : steps // 2])
    rest = torch.empty(batch, steps - steps // 2, 256)
    codes = torch.cat([first, run.run(first[:, -1], steps - steps // 2, policy, rest)], 1)
    logits[:, steps // 2 :] = rest
    return codes, logits


@pytest.mark.parametrize(
    ("conditioner", "encoding"), [("none", "embedding"), ("global", "embedding"), ("global", "onehot")]
)
def test_native_logits_equal_the_torch_loop(conditioner, encoding):
    model = tiny(conditioner, input_encoding=encoding, input_channels=256 if encoding == "onehot" else 8)
    steps = 3 * model.receptive_field + 5  # every ring buffer wraps around
    cond = cond_for(model, 3)
    codes, logits = native_sampled(model, 3, steps, cond)
    assert len(codes.unique()) > 50  # a real random walk
    assert (logits - torch_logits_along(model, codes, cond)).abs().max() < 1e-4


@pytest.mark.parametrize(
    "name",
    [
        "wavenet-none-whispering",
        "wavenet-global",
        "wavenet-global-envelope",
        "wavenet-global-bands",
        "wavenet-global-bands-ss",
    ],
)
def test_native_generation_equals_torch_on_shipped_weights(name):
    model = load_checkpoint(CHECKPOINTS / f"{name}.safetensors", zoo=get_zoo())
    cond = cond_for(model, 2)
    greedy = SamplingPolicy(greedy=True)
    with torch.no_grad():
        results = []
        for engine in ("torch", "native"):
            model.config.fast_engine = engine
            results.append(model.generate_fast(1500, model.init_state(2, cond), greedy))
    assert torch.equal(results[0], results[1])  # the envelope variant: its drawn frames agree too
    if model.prior is None:  # the logits along a sampled trajectory
        codes, logits = native_sampled(model, 2, 2000, cond)
        assert (logits - torch_logits_along(model, codes, cond)).abs().max() < 1e-3


@pytest.mark.parametrize("sizes", [{}, {"dilation_channels": 7, "end_channels": 9}])
def test_two_threads_on_one_clip_compute_the_torch_loop(sizes, monkeypatch):
    """One clip split over two threads (halves of every block's units, odd sizes cut unevenly): the logits
    along its own samples are the torch loop's; two clips on two threads are exactly one thread's."""
    monkeypatch.setattr(native, "PAIR_MIN_WEIGHTS", 0)  # the tiny model too
    model = tiny("global", **sizes)
    assert len(NativeRun(model, model.init_state(1, cond_for(model, 1)), 2).nets) == 2
    steps = 3 * model.receptive_field + 5
    cond = cond_for(model, 1)
    codes, logits = native_sampled(model, 1, steps, cond, threads=2)
    assert len(codes.unique()) > 50
    assert (logits - torch_logits_along(model, codes, cond)).abs().max() < 1e-4
    cond = cond_for(model, 2)
    one, two = native_sampled(model, 2, 300, cond), native_sampled(model, 2, 300, cond, threads=2)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])


@pytest.mark.parametrize("weights", ["fp32", "int8"])
def test_two_threads_on_shipped_weights(weights, monkeypatch):
    """wavenet-global-bands-ss through generate_fast with torch at two threads: fp32 greedy generation is
    the torch loop's, its prior's frames included; int8's logits stay within the one-thread KL bound."""
    model = load_checkpoint(CHECKPOINTS / "wavenet-global-bands-ss.safetensors", zoo=get_zoo())
    cond = cond_for(model, 1)
    assert len(NativeRun(model, model.init_state(1, cond), 2).nets) == 1  # demo-sized: whole by default
    monkeypatch.setattr(native, "PAIR_MIN_WEIGHTS", 0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # what run_native reads; torch's own stay at 1
    if weights == "fp32":
        results = []
        with torch.no_grad():
            for engine in ("torch", "native"):
                model.config.fast_engine = engine
                results.append(model.generate_fast(1500, model.init_state(1, cond), SamplingPolicy(greedy=True)))
        assert torch.equal(results[0], results[1])
        return
    wavenet = load_checkpoint(CHECKPOINTS / "wavenet-global.safetensors", zoo=get_zoo())
    wavenet.config.fast_weights = "int8"
    codes, logits = native_sampled(wavenet, 1, 3000, cond, threads=2)
    reference = torch_logits_along(wavenet, codes, cond)
    assert (logits - reference).abs().max() > 1e-3 and mean_kl(reference, logits) < 1e-3


def mean_kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> float:
    """Mean KL(p || q) per step, in nats, of two ``(..., 256)`` logit tensors."""
    p, q = p_logits.log_softmax(-1), q_logits.log_softmax(-1)
    return float((p.exp() * (p - q)).sum(-1).mean())


@pytest.mark.parametrize("name", ["wavenet-none-whispering", "wavenet-global"])
def test_int8_weights_stay_close_to_fp32_on_shipped_weights(name):
    """Along the codes the int8 C loop draws, its logits against the fp32 torch loop's: a mean KL per step
    under 1e-3 nats (measured: about 1e-4 on wavenet-global), though the logits do differ."""
    model = load_checkpoint(CHECKPOINTS / f"{name}.safetensors", zoo=get_zoo())
    model.config.fast_weights = "int8"
    cond = cond_for(model, 2)
    codes, logits = native_sampled(model, 2, 3000, cond)
    reference = torch_logits_along(model, codes, cond)
    assert (logits - reference).abs().max() > 1e-3  # the weights really are int8
    assert mean_kl(reference, logits) < 1e-3
    assert len(codes.unique()) > 20


def test_int8_columns_round_trip_and_bad_settings_are_refused():
    torch.manual_seed(0)
    matrix = torch.randn(37, 70) * torch.logspace(-3, 1, 70)  # columns of very different sizes
    q, scale = quantize_columns(matrix)
    assert q.dtype == torch.int8 and q.abs().max() == 127
    assert ((q.float() * scale - matrix).abs() <= scale / 2 + 1e-7).all()  # half a step of its own column
    with pytest.raises(UsageError, match="fast_weights must be one of fp32, int8"):
        tiny(fast_weights="int4")
    with pytest.raises(UsageError, match="fast_weights=int8 is the C loop's"):
        tiny(fast_weights="int8", fast_engine="torch")


@pytest.mark.parametrize(("bands", "loudness", "guidance"), [(1, 0, 0.0), (4, 0, 0.0), (4, 20, 0.0), (4, 20, 3.0)])
def test_native_generation_equals_torch_with_a_band_envelope(bands, loudness, guidance):
    model = tiny(
        envelope_levels=12,
        envelope_hidden=16,
        envelope_bands=bands,
        envelope_loudness=loudness,
        envelope_guidance=guidance,
        sample_rate=16000,
    )
    cond = cond_for(model, 2)
    results = []
    with torch.no_grad():
        for engine in ("torch", "native"):
            model.config.fast_engine = engine
            greedy = SamplingPolicy(greedy=True)
            results.append(model.generate_fast(700, model.init_state(2, cond), greedy))
    assert torch.equal(results[0], results[1])


@pytest.mark.parametrize(
    "policy", [SamplingPolicy(), SamplingPolicy(temperature=0.6), SamplingPolicy(top_k=5), SamplingPolicy(top_p=0.7)]
)
def test_native_sampling_draws_from_the_policy_distribution(policy):
    """Over many steps the drawn codes' counts match the summed per-step probabilities of the policy."""
    model = tiny("none")
    policy.generator = torch.Generator().manual_seed(2)
    batch, steps = 4, 5000
    run = NativeRun(model, model.init_state(batch))
    logits = torch.empty(batch, steps, 256)
    codes = run.run(torch.full((batch,), model.silence_code), steps, policy, logits)
    probs = torch.softmax(filter_logits(logits.reshape(-1, 256), policy), dim=-1)
    drawn = codes.reshape(-1)
    assert probs[torch.arange(len(drawn)), drawn].min() > 0  # never a filtered class
    expected = probs.sum(0)
    counts = torch.bincount(drawn, minlength=256).float()
    assert ((counts - expected).abs() <= 6 * expected.sqrt() + 3).all()
    assert len(drawn.unique()) > (3 if policy.top_k else 20)


def test_native_is_seeded_and_auto_picks_by_batch_and_size(monkeypatch):
    model = tiny("global")
    draws = []
    for _ in range(2):
        policy = SamplingPolicy(generator=torch.Generator().manual_seed(9))
        draws.append(model.generate_fast(400, model.init_state(2, cond_for(model, 2)), policy))
    assert torch.equal(draws[0], draws[1])
    assert model.fast_engine(NATIVE_BATCH) == "native" and model.fast_engine(NATIVE_BATCH + 1) == "torch"
    monkeypatch.setattr(wavenet_model, "NATIVE_MAX_PARAMETERS", sum(p.numel() for p in model.parameters()) - 1)
    assert model.fast_engine(1) == "native"  # weights that stream from memory: one sequential read in C
    assert model.fast_engine(2) == "torch"  # but clips one after the other: torch's batched products win
    model.use_fast_weights("int8")  # only the C loop takes int8 weights: auto keeps it at any batch
    assert model.fast_engine(2) == "native" and model.fast_engine(NATIVE_BATCH + 1) == "native"
    model.use_fast_weights("fp32")
    model.config.fast_engine = "native"
    assert model.fast_engine(NATIVE_BATCH + 1) == "native"
    with pytest.raises(UsageError, match="fast_engine must be one of auto, native, torch"):
        tiny(fast_engine="gpu")
    assert math.isfinite(float(draws[0].float().mean()))


GENERATE = """
import warnings, torch
from asmr_zoo.factory import build_model
from asmr_zoo.errors import UsageError
from asmr_zoo.interfaces import SamplingPolicy
model = build_model("wavenet", "none", [], {{"fast_engine": "{engine}"}}, preset="tiny").eval()
with warnings.catch_warnings(record=True) as caught, torch.no_grad():
    warnings.simplefilter("always")
    try:
        codes = model.generate_fast(20, model.init_state(1), SamplingPolicy(greedy=True))
    except UsageError as err:
        print("error:", err)
    else:
        print(model.fast_engine(1), tuple(codes.shape), [str(w.message) for w in caught])
"""


def test_without_a_compiler_auto_falls_back_and_native_says_why(without_compiler):
    outputs = without_compiler(GENERATE)
    assert outputs["auto"].startswith("torch (1, 20, 1)") and "slower torch loop" in outputs["auto"]
    assert outputs["native"] == (
        "error: fast_engine=native: no C compiler 'no-such-cc' on PATH (set CC, or install gcc or clang); "
        "or use fast_engine=torch"
    )
