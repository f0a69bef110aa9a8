"""WaveRNN's C generation loop (``asmr_zoo_wavernn/native.c``): logits against the teacher-forced pass,
the portable build against the SIMD one, batching and threads, the build cache, and a missing compiler."""

from __future__ import annotations

import pytest
import torch

from asmr_zoo.errors import UsageError
from asmr_zoo.factory import build_model
from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo_wavernn import native

VOCAB = ["tapping_glass", "whispering"]
CONDITIONERS = ["none", "gate-bias", "concat"]


def make(conditioner: str, hidden: int = 48, **config) -> torch.nn.Module:
    torch.manual_seed(0)
    vocab = [] if conditioner == "none" else VOCAB
    return build_model("wavernn", conditioner, vocab, {"hidden": hidden, "cond_dim": 8, **config}).eval()


def cond_for(model, batch: int) -> torch.Tensor | None:
    return None if not model.conditioned else torch.arange(batch) % len(VOCAB)


def codes_for(batch: int, steps: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (batch, steps, 2), generator=torch.Generator().manual_seed(seed))


def forced_logits(cell: native.NativeCell, model, codes: torch.Tensor, cond, threads: int = 1, state=None):
    state = state or model.init_state(codes.shape[0], cond)
    prev = torch.tensor(model.codec.silence).repeat(codes.shape[0], 1)
    out, logits = cell.run(state.h.clone(), prev, cell.biases(state), codes.shape[1], forced=codes, threads=threads)
    assert torch.equal(out, codes)
    return logits


@pytest.mark.parametrize("conditioner", CONDITIONERS)
@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-4), ("int8", 0.05)])
def test_native_logits_match_teacher_forced(conditioner, precision, tolerance):
    model = make(conditioner)
    codes, cond = codes_for(3, 40), cond_for(model, 3)
    with torch.no_grad():
        expected = model(codes, cond)
        logits = forced_logits(native.NativeCell(model, precision), model, codes, cond)
    assert (logits - expected).abs().max() < tolerance


def test_portable_build_is_bit_identical_to_the_simd_build():
    model = make("concat")
    codes, cond = codes_for(3, 25), cond_for(model, 3)
    simd = native.NativeCell(model, "int8")
    portable = native.NativeCell(model, "int8", extra_flags=("-DASMR_ZOO_GENERIC",))
    assert portable.lib.wavernn_simd() == 0
    with torch.no_grad():
        assert torch.equal(forced_logits(simd, model, codes, cond), forced_logits(portable, model, codes, cond))
        state = model.init_state(3, cond)
        sampled = []
        for cell in (simd, portable):
            policy = SamplingPolicy(generator=torch.Generator().manual_seed(5))
            sampled.append(native.run_native(cell, 200, state, policy))
    assert torch.equal(*sampled)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_batch_groups_and_threads_do_not_change_results(precision):
    """11 clips run as lockstep groups (8 + 2 + 1, or split over 2 threads) give each clip's own result."""
    model = make("gate-bias")
    cell = native.NativeCell(model, precision)
    codes, cond = codes_for(11, 20), cond_for(model, 11)
    with torch.no_grad():
        together = forced_logits(cell, model, codes, cond, threads=1)
        threaded = forced_logits(cell, model, codes, cond, threads=2)
        state = model.init_state(11, cond)
        clip_states = [type(state)(*(part[i : i + 1] for part in state[:3])) for i in range(11)]
        alone = torch.cat([forced_logits(cell, model, codes[i : i + 1], None, state=clip_states[i]) for i in range(11)])
        runs, default = [], torch.get_num_threads()
        try:
            for threads in (1, 2):
                torch.set_num_threads(threads)
                policy = SamplingPolicy(generator=torch.Generator().manual_seed(0))
                runs.append(native.run_native(cell, 300, state, policy))
        finally:
            torch.set_num_threads(default)
    assert torch.equal(together, alone) and torch.equal(together, threaded)
    assert torch.equal(*runs)


def test_run_native_continues_across_chunks(monkeypatch):
    """Generating in several calls into C carries the state and the last codes over exactly."""
    model = make("none")
    cell = native.NativeCell(model, "int8")
    state = model.init_state(2)
    with torch.no_grad():
        whole = native.run_native(cell, 50, state, SamplingPolicy(greedy=True))
        monkeypatch.setattr(native, "CHUNK", 7)
        seen = []
        pieces = native.run_native(cell, 50, state, SamplingPolicy(greedy=True), lambda d, t: seen.append(d))
    assert torch.equal(whole, pieces)
    assert seen == [7, 14, 21, 28, 35, 42, 49, 50]


def test_build_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ASMR_ZOO_CACHE", str(tmp_path))
    first = native.build()
    stamp = first.stat().st_mtime_ns
    assert native.build() == first and first.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, first.with_suffix(".sha256").name])


def test_damaged_cached_build_is_rebuilt_not_loaded(tmp_path, monkeypatch):
    """A truncated cached library (a full disk, a killed copy) could crash the process when mapped."""
    monkeypatch.setenv("ASMR_ZOO_CACHE", str(tmp_path))
    first = native.build()
    good = first.read_bytes()
    first.write_bytes(good[: len(good) // 2])
    again = native.build()
    assert again == first and again.read_bytes() == good


def test_failed_build_is_a_clear_error_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ASMR_ZOO_CACHE", str(tmp_path))
    with pytest.raises(native.NativeUnavailable, match="no C compiler 'no-such-cc'"):
        native.build(compiler="no-such-cc")
    with pytest.raises(native.NativeUnavailable, match="building the C generation loop with 'false' failed"):
        native.build(compiler="false")
    assert list((tmp_path / "native").iterdir()) == []


def test_engine_config_errors():
    with pytest.raises(UsageError, match="fast_engine must be one of auto, native, torchscript"):
        make("none", fast_engine="gpu")
    with pytest.raises(UsageError, match="bf16"):
        make("none", fast_engine="native", fast_weights="bf16")


GENERATE = """
import warnings, torch
from asmr_zoo.factory import build_model
from asmr_zoo.errors import UsageError
from asmr_zoo.interfaces import SamplingPolicy
model = build_model("wavernn", "none", [], {{"hidden": 32, "fast_engine": "{engine}"}}).eval()
with warnings.catch_warnings(record=True) as caught, torch.no_grad():
    warnings.simplefilter("always")
    try:
        codes = model.generate_fast(20, model.init_state(1), SamplingPolicy(greedy=True))
    except UsageError as err:
        print("error:", err)
    else:
        print(model.fast_engine(), tuple(codes.shape), [str(w.message) for w in caught])
"""


def test_without_a_compiler_auto_falls_back_and_native_says_why(without_compiler):
    outputs = without_compiler(GENERATE)
    assert outputs["auto"].startswith("torchscript (1, 20, 2)")
    assert "no C compiler 'no-such-cc'" in outputs["auto"] and "slower TorchScript loop" in outputs["auto"]
    assert outputs["native"] == (
        "error: fast_engine=native: no C compiler 'no-such-cc' on PATH (set CC, or install gcc or clang); "
        "or use fast_engine=torchscript"
    )
