"""WaveRNN's training recurrence as one autograd function backed by C (``recurrence.c``).

``nn.GRU`` and a Python loop over the cell cost the same on a CPU (measured with
``benchmarks/bench_training.py``): autograd records a dozen small ops per step, and the backward pass
accumulates R's gradient one outer product per step, reading and writing all of R each time. Here the loop
over steps is C (forward: R h_{t-1} and the gates; backward: R^T times the gates' gradients), and R's
gradient is one GEMM over all steps after the loop. It takes the per-clip recurrent bias, so ``concat``
(whose R_b b is such a bias, eq. 3) runs the same code as ``none`` and ``gate-bias``.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import torch

from asmr_zoo.native_build import Loader, NativeUnavailable

__all__ = ["NativeUnavailable", "library", "project", "recurrence"]

SOURCE = Path(__file__).with_name("recurrence.c")
_INT = ctypes.c_int32
_PTR = ctypes.c_void_p


def _declare(lib: ctypes.CDLL) -> None:
    lib.wavernn_train_forward.argtypes = [_INT, _INT, _INT, _INT, _PTR, _PTR, _PTR, _PTR, _PTR, _PTR]
    lib.wavernn_train_backward.argtypes = [_INT, _INT, _INT, _INT, *[_PTR] * 8]
    lib.wavernn_train_forward.restype = lib.wavernn_train_backward.restype = ctypes.c_int


library = Loader(SOURCE, "wavernn-train", "C training loop", _declare)


def _p(tensor: torch.Tensor) -> int:
    return tensor.data_ptr()


class _Projection(torch.autograd.Function):
    """x W^T + b over all steps, with the weight's gradient taken as (x^T dgi)^T: with few input columns
    (the three codes, eq. 1) torch's dgi^T x was the slowest GEMM of a training step (0.44 s of 4.8 at
    hidden 896, against 0.04 s this way round)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return torch.addmm(bias, x.reshape(-1, x.shape[-1]), weight.t()).view(*x.shape[:-1], -1)

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor) -> Any:
        x, weight = ctx.saved_tensors
        flat, dflat = x.reshape(-1, x.shape[-1]), dout.reshape(-1, dout.shape[-1])
        dx = (dflat @ weight).view_as(x) if ctx.needs_input_grad[0] else None
        return dx, (flat.t() @ dflat).t(), dflat.sum(0)


def project(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The input projections ``x W^T + b`` of every step (``F.linear``), differentiable in all three."""
    return _Projection.apply(x, weight, bias)


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, gi: torch.Tensor, bias: torch.Tensor, weight: torch.Tensor, h0: torch.Tensor) -> Any:
        gi, bias, weight, h0 = (t.detach().float().contiguous() for t in (gi, bias, weight, h0))
        batch, steps, gates = gi.shape
        hidden = gates // 3
        states = gi.new_empty(batch, steps, hidden)
        saved = gi.new_empty(batch, steps, 4 * hidden)
        if library().wavernn_train_forward(
            batch,
            steps,
            hidden,
            torch.get_num_threads(),
            _p(gi),
            _p(weight),
            _p(bias),
            _p(h0),
            _p(states),
            _p(saved),
        ):
            raise MemoryError("the C training loop could not allocate its buffers")
        ctx.save_for_backward(weight, h0, states, saved)
        return states

    @staticmethod
    def backward(ctx: Any, dstates: torch.Tensor) -> Any:
        weight, h0, states, saved = ctx.saved_tensors
        batch, steps, hidden = states.shape
        dstates = dstates.float().contiguous()
        dgi = states.new_empty(batch, steps, 3 * hidden)
        dgh = torch.empty_like(dgi)
        dh0 = states.new_empty(batch, hidden)
        if library().wavernn_train_backward(
            batch, steps, hidden, torch.get_num_threads(), _p(weight), _p(h0), _p(states), _p(saved), _p(dstates),
            _p(dgi), _p(dgh), _p(dh0),
        ):  # fmt: skip
            raise MemoryError("the C training loop could not allocate its buffers")
        previous = torch.cat([h0[:, None], states[:, :-1]], dim=1).reshape(-1, hidden)
        dweight = dgh.reshape(-1, 3 * hidden).t() @ previous  # dL/dR = sum_t dgh_t h_{t-1}^T, one GEMM
        return dgi, dgh.sum(1), dweight, dh0


def recurrence(gi: torch.Tensor, bias: torch.Tensor, weight: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """States ``(B, T, H)`` of eq. 1 given the input projections ``gi (B, T, 3H)``, the per-clip recurrent
    bias ``(B, 3H)``, R ``(3H, H)`` and h_0 ``(B, H)``; differentiable in all four."""
    return _Recurrence.apply(gi, bias, weight, h0)
