"""WaveNet's cached generation loop in C (``native.c``), built on first use (``asmr_zoo.native_build``).

Why C: the demo and small presets do about 0.1-1 M multiply-adds per sample, microseconds of arithmetic,
but the torch loop (``WaveNet.step_logits``) makes about five calls per block per sample, each with a few
microseconds of fixed cost, which keeps it below real time. The C loop makes no calls per sample; it reads
the same packed weights as the torch loop (``WaveNet.init_state``). The envelope variant's loudness prior
runs in torch between calls, once per 10 ms frame.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from asmr_zoo.interfaces import SamplingPolicy
from asmr_zoo.native_build import Loader, NativeUnavailable
from asmr_zoo_wavenet.model import sample

__all__ = ["NativeUnavailable", "library", "run_native"]

SOURCE = Path(__file__).with_name("native.c")
CHUNK = 4000  # samples per call without an envelope: progress and Ctrl-C are handled between calls
_PTR = ctypes.c_void_p


MATRICES = ("fg", "res", "skip", "end1", "end2")
# One clip goes on two threads only with this many weights or more: the small preset (0.7 M) runs 1.1-1.3x
# faster so and the paper preset 1.6-1.7x, while the demo preset's (0.1 M) microseconds per sample are
# fewer than its meetings cost (0.85x; benchmarks/bench_wavenet.py).
PAIR_MIN_WEIGHTS = 300_000


class Weights(ctypes.Structure):
    _fields_ = [("w", _PTR), ("q", _PTR), ("scale", _PTR)]


class Net(ctypes.Structure):
    _fields_ = [
        *[(name, ctypes.c_int32) for name in ("blocks", "R", "D", "S", "E", "ctx")],
        *[(name, _PTR) for name in ("dilation", "table", "input_bias")],
        *[(name, Weights) for name in MATRICES],
    ]


class Clip(ctypes.Structure):
    _fields_ = [
        ("queues", _PTR),
        ("heads", _PTR),
        ("input_past", _PTR),
        ("context", _PTR),
        ("code", ctypes.c_int64),
        ("uniforms", _PTR),
        ("codes", _PTR),
        ("logits", _PTR),
    ]


def _declare(lib: ctypes.CDLL) -> None:
    policy = [ctypes.c_float, ctypes.c_int32, ctypes.c_float, ctypes.c_int32]  # 1/temperature, top-k, top-p, greedy
    lib.wavenet_run.argtypes = [ctypes.POINTER(Net), ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, *policy]
    lib.wavenet_run.argtypes.append(ctypes.POINTER(Clip))
    lib.wavenet_run.restype = ctypes.c_int
    lib.wavenet_run_pair.argtypes = [ctypes.POINTER(Net), ctypes.c_int32, *policy, ctypes.POINTER(Clip)]
    lib.wavenet_run_pair.restype = ctypes.c_int


library = Loader(SOURCE, "wavenet", "C generation loop", _declare)


def _with_bias(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution ``(out, in, 1)`` as an ``(in + 1, out)`` matrix, its bias as the last row."""
    return torch.cat([weight[..., 0].t(), bias[None]])


def panels(matrix: torch.Tensor) -> torch.Tensor:
    """An ``(rows, n)`` matrix in the C loop's column panels, flat: tiles of 64 columns, then one each of 32,
    16 and 8 where they fit, then single columns; each tile's rows one after the other."""
    n, widths = matrix.shape[1], []
    widths += [64] * (n // 64)
    left = n % 64
    for width in (32, 16, 8):
        if left >= width:
            widths.append(width)
            left -= width
    widths += [1] * left
    return torch.cat([tile.reshape(-1) for tile in matrix.split(widths, dim=1)])


def quantize_columns(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per column: ``(q (rows, n) int8, scale (n,))`` with ``matrix ~ q * scale``."""
    scale = matrix.abs().amax(dim=0).clamp(min=1e-30) / 127
    return (matrix / scale).round().clamp(-127, 127).to(torch.int8), scale


def pack(matrices: list[torch.Tensor], weights: str) -> dict[str, torch.Tensor]:
    """A stack of matrices as the C loop's ``Weights``: fp32 panels ``w``, or int8 panels ``q`` and the
    per-column ``scale`` (``fast_weights``)."""
    if weights == "fp32":
        return {"w": torch.cat([panels(m.float()) for m in matrices])}
    quantized = [quantize_columns(m.float()) for m in matrices]
    return {"q": torch.cat([panels(q) for q, _ in quantized]), "scale": torch.cat([s for _, s in quantized])}


def _rows(matrix: torch.Tensor, units: slice, d: int, bias: bool) -> torch.Tensor:
    """The rows of a ``(d + 1, n)`` matrix that read ``units`` of z, and its bias row (zeros without ``bias``)."""
    last = matrix[d:]
    return torch.cat([matrix[units], last if bias else torch.zeros_like(last)])


def halves(matrices: dict[str, list[torch.Tensor]], d: int, e: int) -> list[dict[str, list[torch.Tensor]]]:
    """The matrices split for two threads on one clip (native.c's wavenet_run_pair): half k takes its share
    of each block's filter and gate units (fg's columns) and the skip and residual rows that read them, its
    share of end1's channels and the end2 rows that read them; half 1's bias rows are zeros, so each bias is
    added once."""
    out = []
    for k, (units, ends) in enumerate(zip(_shares(d), _shares(e), strict=True)):
        gates = slice(d + units.start, d + units.stop)
        out.append({
            "fg": [torch.cat([m[:, units], m[:, gates]], dim=1) for m in matrices["fg"]],
            "res": [_rows(m, units, d, k == 0) for m in matrices["res"]],
            "skip": [_rows(m, units, d, k == 0) for m in matrices["skip"]],
            "end1": [m[:, ends] for m in matrices["end1"]],
            "end2": [_rows(m, ends, e, k == 0) for m in matrices["end2"]],
        })  # fmt: skip
    return out


def _shares(n: int) -> tuple[slice, slice]:
    """``n`` units cut in two halves."""
    return slice(0, (n + 1) // 2), slice((n + 1) // 2, n)


class NativeRun:
    """One generation's packed weights and per-clip ring buffers, from a fresh ``WaveNetState``; with
    ``threads`` > 1, clips are shared out over threads, and one clip of a model with ``PAIR_MIN_WEIGHTS``
    weights or more is split over two (``halves``)."""

    def __init__(self, model: Any, state: Any, threads: int = 1) -> None:
        self.lib = library()
        blocks = state.blocks
        cfg = model.config
        r, d, e = cfg.residual_channels, cfg.dilation_channels, cfg.end_channels
        dilations = [block.dilation for block in model.blocks]
        zeros = torch.zeros(d + 1, r)
        matrices = {
            "fg": [b.filter_gate for b in blocks],
            "res": [b.residual if b.residual is not None else zeros for b in blocks],
            "skip": list(state.skip.split(d + 1)),
            "end1": [_with_bias(model.end1.weight.detach(), model.end1.bias.detach())],
            "end2": [_with_bias(model.end2.weight.detach(), model.end2.bias.detach())],
        }
        self.keep = {  # the tensors the C structs point into
            "dilation": torch.tensor(dilations, dtype=torch.int32),
            "table": state.input_table.float().contiguous(),
            "input_bias": state.input_bias.detach().float().contiguous(),
        }
        batch = state.context.shape[0]
        self.threads = threads
        weights = sum(m.numel() for stack in matrices.values() for m in stack)
        paired = threads > 1 and batch == 1 and d > 1 and e > 1 and weights >= PAIR_MIN_WEIGHTS
        parts = halves(matrices, d, e) if paired else [matrices]
        nets = []
        for k, part in enumerate(parts):
            stacks = {name: pack(part[name], cfg.fast_weights) for name in MATRICES}
            self.keep.update({f"{k}.{name}.{p}": t for name, stack in stacks.items() for p, t in stack.items()})
            units, end = part["fg"][0].shape[1] // 2, part["end1"][0].shape[1]
            nets.append(Net(
                len(blocks), r, units, cfg.skip_channels, end, state.context.shape[1],
                *[self.keep[name].data_ptr() for name in ("dilation", "table", "input_bias")],
                *[Weights(*[stack[p].data_ptr() if p in stack else None for p in ("w", "q", "scale")])
                  for stack in (stacks[name] for name in MATRICES)],
            ))  # fmt: skip
        self.nets = (Net * len(nets))(*nets)
        self.context = state.context  # (B, ctx): the envelope's y is written into it between calls
        self.queues = torch.zeros(batch, sum(dilations) * r)
        self.heads = torch.zeros(batch, len(blocks), dtype=torch.int32)
        self.input_past = torch.zeros(batch, r)

    def run(
        self, codes: torch.Tensor, steps: int, policy: SamplingPolicy, logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Continue every clip from its previous code ``codes (B,)`` for ``steps`` samples; returns the new codes
        ``(B, steps)``; fills ``logits (B, steps, 256)`` when given (for tests)."""
        batch = codes.shape[0]
        out = torch.empty(batch, steps, dtype=torch.int64)
        uniforms = None if policy.greedy else torch.rand(batch, steps, generator=policy.generator)
        clips = (Clip * batch)()
        for i in range(batch):
            clips[i] = Clip(
                self.queues[i].data_ptr(),
                self.heads[i].data_ptr(),
                self.input_past[i].data_ptr(),
                self.context[i].data_ptr(),
                int(codes[i]),
                None if uniforms is None else uniforms[i].data_ptr(),
                out[i].data_ptr(),
                None if logits is None else logits[i].data_ptr(),
            )
        drawing = (1.0 / max(policy.temperature, 1e-6), policy.top_k, policy.top_p, int(policy.greedy))
        if len(self.nets) == 2:
            status = self.lib.wavenet_run_pair(self.nets, steps, *drawing, clips)
        else:
            status = self.lib.wavenet_run(self.nets, batch, steps, self.threads, *drawing, clips)
        if status:
            raise MemoryError("the C generation loop could not allocate its buffers or start its threads")
        return out


def run_native(
    model: Any,
    num_samples: int,
    state: Any,
    policy: SamplingPolicy,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Codes ``(B, num_samples, 1)`` from silence, with the envelope prior stepped in torch once per frame."""
    run = NativeRun(model, state, torch.get_num_threads())
    batch = state.context.shape[0]
    out = torch.empty(batch, num_samples, 1, dtype=torch.long)
    code = torch.full((batch,), model.silence_code, dtype=torch.long)
    env, done = state.envelope, 0
    while done < num_samples:
        steps = min(CHUNK, num_samples - done)
        if env is not None:  # a new loudness frame: draw it, then run to the next frame boundary
            model.draw_frame(state, lambda logits: sample(logits, policy))
            steps = min(model.hop, num_samples - done)
        fresh = run.run(code, steps, policy)
        out[:, done : done + steps, 0] = fresh
        code = fresh[:, -1]
        done += steps
        if progress is not None:
            progress(done, num_samples)
    return out
