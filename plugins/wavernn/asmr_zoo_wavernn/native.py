"""WaveRNN's generation loop in C (``native.c``), built on first use with the system C compiler.

Why C (measured with ``benchmarks/bench_wavernn.py`` on the project's 2-core Xeon, AVX-512 VNNI): at
hidden 512 the per-sample work is about 1 M multiply-adds, a few microseconds of arithmetic, but the
TorchScript loop spends about 60 us per sample on fixed per-call costs (five fbgemm calls of 7-11 us and
about 30 element-wise ops). The C loop makes no calls per sample: int8 mat-vecs with vpdpbusd on weights
that stay in L2 (1 MB at hidden 512), the cell's sigmoid/tanh vectorized, and sampling by inverse CDF
on one uniform per pick drawn from the policy's generator.

The library is built and cached by ``asmr_zoo.native_build``. Where it cannot be built (no compiler), the
model falls back to the TorchScript loop with a warning.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.native_build import Loader, NativeUnavailable

__all__ = ["NativeCell", "NativeUnavailable", "build", "library", "run_native"]

SOURCE = Path(__file__).with_name("native.c")
CHUNK = 4096  # samples per call into C at batch <= 16 (fewer above): progress and Ctrl-C are handled between calls


class Linear(ctypes.Structure):
    _fields_ = [
        ("rows", ctypes.c_int32),
        ("cols", ctypes.c_int32),
        ("cols_pad", ctypes.c_int32),
        ("q", ctypes.c_void_p),
        ("scale", ctypes.c_void_p),
        ("sum", ctypes.c_void_p),
        ("w", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
    ]


class Net(ctypes.Structure):
    _fields_ = [
        ("half", ctypes.c_int32),
        ("code_scale", ctypes.c_float),
        ("R", Linear),
        ("O1", Linear),
        ("O2", Linear),
        ("O3", Linear),
        ("O4", Linear),
        ("in_c", ctypes.c_void_p),
        ("in_f", ctypes.c_void_p),
        ("in_t", ctypes.c_void_p),
    ]


class Clip(ctypes.Structure):
    _fields_ = [
        ("h", ctypes.c_void_p),
        ("prev", ctypes.c_void_p),
        ("bias_g", ctypes.c_void_p),
        ("bias_e", ctypes.c_void_p),
        ("uniforms", ctypes.c_void_p),
        ("forced", ctypes.c_void_p),
        ("codes", ctypes.c_void_p),
        ("logits", ctypes.c_void_p),
    ]


def _declare(lib: ctypes.CDLL) -> None:
    lib.wavernn_run.argtypes = [
        ctypes.POINTER(Net),
        ctypes.c_int32,
        ctypes.c_int32,
        ctypes.c_int32,
        ctypes.c_float,
        ctypes.c_int32,
        ctypes.c_float,
        ctypes.c_int32,
        ctypes.POINTER(Clip),
    ]
    lib.wavernn_run.restype = ctypes.c_int
    lib.wavernn_simd.restype = ctypes.c_int


library = Loader(SOURCE, "wavernn", "C generation loop", _declare)
build = library.build


def _ptr(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def gate_order(half: int) -> torch.Tensor:
    """Row permutation from nn.GRU's (gate, half, unit) to the loop's (half, gate, unit) order."""
    return torch.arange(6 * half).view(3, 2, half).transpose(0, 1).reshape(-1)


def e_rows(half: int) -> torch.Tensor:
    """The e-gate rows of both halves in the loop's order."""
    return torch.arange(6 * half).view(2, 3, half)[:, 2].reshape(-1)


class NativeCell:
    """The model's weights packed for ``native.c`` (int8 in 16 x 4 blocks, or fp32), and a runner."""

    def __init__(self, model: Any, precision: str, extra_flags: tuple[str, ...] = ()) -> None:
        if precision not in ("fp32", "int8"):
            raise ValueError(f"the C loop takes fp32 or int8 weights, not {precision}")
        self.lib = library(extra_flags)
        self.half = half = model.half
        self.order = gate_order(half)
        self._keep: list[torch.Tensor] = []  # the tensors the C structs point into
        weight_ih = model._masked_input_weight().detach().float()[self.order]
        in_c, in_f, in_t = (self._hold(weight_ih[:, i]) for i in range(3))
        heads = (model.O1, model.O2, model.O3, model.O4)
        self.net = Net(
            half,
            model.codec.scale(torch.tensor(1.0)).item() + 1.0,  # codec.scale(c) = c * code_scale - 1
            self._linear(model.gru.weight_hh_l0.detach()[self.order], None, precision),
            *(self._linear(head.weight.detach(), head.bias.detach(), precision) for head in heads),
            _ptr(in_c),
            _ptr(in_f),
            _ptr(in_t),
        )

    def _hold(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.contiguous()
        self._keep.append(tensor)
        return tensor

    def _linear(self, weight: torch.Tensor, bias: torch.Tensor | None, precision: str) -> Linear:
        rows, cols = weight.shape
        cols_pad = -(-cols // 4) * 4
        bias = None if bias is None else self._hold(bias.float())
        if precision == "fp32":
            return Linear(rows, cols, cols_pad, None, None, None, _ptr(self._hold(weight.float())), _ptr(bias))
        weight = weight.float()
        scale = weight.abs().amax(dim=1) / 127  # symmetric, per output row
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = torch.round(weight / scale[:, None]).clamp_(-127, 127).to(torch.int8)
        rows_pad = -(-rows // 16) * 16
        padded = torch.zeros(rows_pad, cols_pad, dtype=torch.int8)
        padded[:rows, :cols] = q
        blocks = padded.view(rows_pad // 16, 16, cols_pad // 4, 4).permute(0, 2, 1, 3)  # (block, k/4, row, k%4)
        row_sum = q.to(torch.int32).sum(dim=1, dtype=torch.int32)
        return Linear(
            rows,
            cols,
            cols_pad,
            _ptr(self._hold(blocks)),
            _ptr(self._hold(scale)),
            _ptr(self._hold(row_sum)),
            None,
            _ptr(bias),
        )

    def biases(self, state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """A ``WaveRNNState``'s per-clip gate biases in the loop's layout: ``bias_g`` (B, 3H) added to
        R h_{t-1} (with the input bias folded in on r/u rows) and ``bias_e`` (B, H), the e rows' input bias."""
        gi, gh = state.gi_bias[:, self.order].float(), state.gh_bias[:, self.order].float()
        is_e = e_rows(self.half)
        bias_e = gi[:, is_e]
        gi[:, is_e] = 0
        return (gh + gi).contiguous(), bias_e.contiguous()

    def run(
        self,
        h: torch.Tensor,
        prev: torch.Tensor,
        biases: tuple[torch.Tensor, torch.Tensor],
        steps: int,
        policy: SamplingPolicy | None = None,
        forced: torch.Tensor | None = None,
        threads: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``steps`` samples from state ``h`` (B, H, updated in place) after codes ``prev`` (B, 2, updated in
        place). Sampling follows ``policy``, or the codes are teacher-forced from ``forced`` (B, steps, 2),
        in which case the logits (B, steps, 2, 256) come back too. Returns codes (B, steps, 2) and logits."""
        batch = h.shape[0]
        bias_g, bias_e = biases
        codes = torch.empty(batch, steps, 2, dtype=torch.long)
        logits = torch.empty(batch, steps, 2, 256) if forced is not None else None
        greedy = forced is None and policy is not None and policy.greedy
        uniforms = None
        if forced is None and not greedy:
            assert policy is not None
            uniforms = torch.rand(batch, steps, 2, generator=policy.generator)
        if forced is not None:
            forced = forced.to(torch.long).contiguous()
        clips = (Clip * batch)()
        for b in range(batch):
            clips[b] = Clip(
                _ptr(h[b]),
                _ptr(prev[b]),
                _ptr(bias_g[b]),
                _ptr(bias_e[b]),
                None if uniforms is None else _ptr(uniforms[b]),
                None if forced is None else _ptr(forced[b]),
                _ptr(codes[b]),
                None if logits is None else _ptr(logits[b]),
            )
        temperature = policy.temperature if policy is not None else 1.0
        top_k = policy.top_k if policy is not None else 0
        top_p = policy.top_p if policy is not None else 1.0
        status = self.lib.wavernn_run(
            ctypes.byref(self.net), batch, steps, threads, 1.0 / temperature, top_k, top_p, int(greedy), clips
        )
        if status != 0:
            raise MemoryError("the C generation loop could not allocate its buffers")
        return codes, logits


def run_native(
    cell: NativeCell,
    num_samples: int,
    state: Any,
    policy: SamplingPolicy,
    progress: Callable[[int, int], None] | None = None,
    silence: tuple[int, int] = (128, 0),
    frames: Callable[[Any], Any] | None = None,
    hop: int = 0,
) -> torch.Tensor:
    """Generate codes (B, num_samples, 2) with ``cell`` from ``state`` (a ``WaveRNNState``). With
    ``frames`` (the envelope variant's next-frame step), the loop runs ``hop`` samples per call and the
    per-clip biases are taken from the state ``frames`` returns before each."""
    batch = state.h.shape[0]
    h = state.h.detach().float().clone().contiguous()
    prev = torch.tensor(silence, dtype=torch.long).repeat(batch, 1)
    biases = cell.biases(state)
    threads = max(1, torch.get_num_threads())
    pieces, chunk = [], hop if frames is not None else max(1, min(CHUNK, CHUNK * 16 // batch))
    for start in range(0, num_samples, chunk):
        steps = min(chunk, num_samples - start)
        if frames is not None:
            state = frames(state)
            biases = cell.biases(state)
        codes, _ = cell.run(h, prev, biases, steps, policy, threads=threads)
        pieces.append(codes)
        if progress is not None:
            progress(start + steps, num_samples)
    return torch.cat(pieces, dim=1)
