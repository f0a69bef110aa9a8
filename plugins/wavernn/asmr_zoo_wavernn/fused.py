"""The fused WaveRNN generation loop: a TorchScript cell with fp32, bf16 or int8 weights.

Why this shape (measured on the project's 2-core Xeon with AVX-512, see the plugin README): per sample
the loop does one mat-vec G = [R | I*] [h_{t-1}; c_{t-1}; f_{t-1}] (3H x (H + 2)), four small head layers
and about 30 element-wise ops. Eager PyTorch pays Python plus dispatch on every op; TorchScript runs the
whole loop without returning to Python (about 1.5 us per op remains). R in fp32 at hidden 896 is 9.6 MB,
more than the two 2 MB L2 caches, so its mat-vec streams from L3 (~200 us); int8 weights (2.4 MB, fbgemm
dynamic quantization, per-row scales) stay in L2 (~50 us). bf16 halves the bytes but its batch-1 kernels
are slower than int8 here. Rows are reordered so each half's gates are contiguous. The previous codes enter
G scaled to [-1, 1] like the state, so int8's per-vector input quantization stays fine-grained.

Sampling draws from the same distribution as ``asmr_zoo.sampling.pick_with_policy``: temperature, then
top-k, then nucleus filtering, then the Gumbel-max trick (argmax of logits + Gumbel noise is a sample of
the softmax), with the noise drawn in chunks from the policy's generator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from asmr_zoo.interfaces import SamplingPolicy


class DenseLinear(nn.Module):
    """y = x W^T + b with W stored in fp32 or bf16 (accumulated and returned in fp32)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, dtype: torch.dtype) -> None:
        super().__init__()
        self.weight = weight.detach().to(dtype).contiguous()
        self.bias = bias.detach().float().contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight.dtype == torch.float32:
            return F.linear(x, self.weight, self.bias)
        return F.linear(x.to(self.weight.dtype), self.weight).float() + self.bias

    def forward_relu(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.forward(x))


class Int8Linear(nn.Module):
    """y = x W^T + b with W quantized per output row to int8 and x quantized on the fly (fbgemm)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        weight = weight.detach().float()
        scales = (weight.abs().amax(dim=1).clamp_min(1e-12) / 127).double()
        zeros = torch.zeros(weight.shape[0], dtype=torch.long)
        qweight = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(qweight, bias.detach().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)

    def forward_relu(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_relu_dynamic(x, self.packed, True)


def _linear(weight: torch.Tensor, bias: torch.Tensor, precision: str) -> nn.Module:
    if precision == "int8":
        return Int8Linear(weight, bias)
    return DenseLinear(weight, bias, torch.bfloat16 if precision == "bf16" else torch.float32)


def _cell(ru: torch.Tensor, r_e: torch.Tensor, i_e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Eq. 1 on one half of the state: ``ru`` = pre-activations of r and u (R h + I* x, summed),
    ``r_e`` = R_e h_{t-1}, ``i_e`` = I*_e x_t."""
    r, u = torch.sigmoid(ru).chunk(2, dim=1)
    e = torch.tanh(torch.addcmul(i_e, r, r_e))
    return torch.lerp(e, h, u)  # u h + (1 - u) e


def _filter(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Top-k, then nucleus filtering, as ``asmr_zoo.sampling.filter_logits``."""
    if top_k > 0 and top_k < logits.shape[1]:
        kth = torch.topk(logits, top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=1, descending=True)
        probs = torch.softmax(sorted_logits, dim=1)
        outside = (torch.cumsum(probs, dim=1) - probs) > top_p
        sorted_logits = sorted_logits.masked_fill(outside, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(1, order, sorted_logits)
    return logits


def _pick(logits: torch.Tensor, noise: torch.Tensor, inv_temp: float, top_k: int, top_p: float) -> torch.Tensor:
    """One class per row ``(B, 1)``, distributed as ``pick_with_policy`` (Gumbel-max on filtered logits)."""
    if top_k > 0 or top_p < 1.0:
        return (_filter(logits * inv_temp, top_k, top_p) + noise).argmax(dim=1, keepdim=True)
    return torch.add(noise, logits, alpha=inv_temp).argmax(dim=1, keepdim=True)


class FusedCell(nn.Module):
    """WaveRNN's generation loop over ``steps`` samples, compiled with TorchScript.

    One mat-vec per step: G = [R | I*_{ur}] [h_{t-1}; c_{t-1}; f_{t-1}] + bias, with rows ordered
    [r_c, u_c, e_c | r_f, u_f, e_f], so G holds the summed r/u pre-activations and R_e h_{t-1} of both
    halves; the small I*_e x_t and I* c_t terms are added separately.
    """

    def __init__(self, model: Any, precision: str) -> None:
        super().__init__()
        half = model.half
        hidden = 2 * half
        # rows (gate, half, unit) -> (half, gate, unit)
        self.register_buffer("order", torch.arange(3 * hidden).view(3, 2, half).transpose(0, 1).reshape(-1))
        is_e = torch.arange(3 * hidden).view(2, 3, half)[:, 2].reshape(-1)  # e rows in the new order
        weight_ih = model._masked_input_weight().detach()[self.order]
        scale = 2.0 / (model.codec.classes - 1)  # codec.scale(c) = c * scale - 1
        # G reads [c_{t-1}, f_{t-1}] scaled to [-1, 1], like h: with int8 weights the input row is quantized
        # as one vector, and raw codes (0..255) beside h would leave h a quantization step of about 2.
        w_x = weight_ih[:, :2]  # I* [c_{t-1}, f_{t-1}]
        offset = -weight_ih[:, 2]  # the "- 1" of c_t's scaling, folded into the bias (c_t enters raw)
        not_e = torch.ones(3 * hidden, 1)
        not_e[is_e] = 0
        weight = torch.cat([model.gru.weight_hh_l0.detach()[self.order], w_x * not_e], dim=1)
        bias_i = model.gru.bias_ih_l0.detach()[self.order] + offset
        bias = model.gru.bias_hh_l0.detach()[self.order] + bias_i * not_e[:, 0]
        self.G = _linear(weight, bias, precision)
        self.register_buffer("is_e", is_e)
        self.register_buffer("w_e", w_x[is_e].t().contiguous())  # (2, H): I*_e [c_{t-1}, f_{t-1}]
        self.register_buffer("b_e", bias_i[is_e][None])
        w_ct = weight_ih[3 * half :, 2] * scale  # I* c_t, fine rows only
        self.register_buffer("w_ct_ru", w_ct[: 2 * half][None].contiguous())
        self.register_buffer("w_ct_e", w_ct[2 * half :][None].contiguous())
        self.O1 = _linear(model.O1.weight, model.O1.bias, precision)
        self.O2 = _linear(model.O2.weight, model.O2.bias, precision)
        self.O3 = _linear(model.O3.weight, model.O3.bias, precision)
        self.O4 = _linear(model.O4.weight, model.O4.bias, precision)
        self.half = half
        self.scale = scale

    def forward(
        self,
        h: torch.Tensor,
        prev: torch.Tensor,
        cond_g: torch.Tensor | None,
        cond_e: torch.Tensor,
        noise: torch.Tensor,
        steps: int,
        inv_temp: float,
        top_k: int,
        top_p: float,
        greedy: bool,
        forced: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run ``steps`` samples from state ``h`` (B, H) after sample ``prev`` (B, 2). ``cond_g`` (B, 3H)
        and ``cond_e`` (B, H) are the per-clip conditioning terms in this cell's layout (``None`` and
        zeros when unconditioned); ``noise`` is Gumbel noise (steps, 2, B, 256), or (0, 2, B, 256) when greedy or
        forced. With ``forced`` codes (B, steps, 2) the loop is teacher-forced and also returns the
        logits. Returns codes (B, steps, 2), logits (B, steps, 2, 256) or an empty tensor, and h."""
        n = self.half
        b_e = cond_e + self.b_e
        noise_c, noise_f = noise[:, 0].unbind(0), noise[:, 1].unbind(0)
        c_t, f_t = prev[:, :1].float(), prev[:, 1:].float()
        c_s, f_s = c_t * self.scale - 1.0, f_t * self.scale - 1.0  # scaled to [-1, 1]
        h_c, h_f = h[:, :n], h[:, n:]
        coarse: list[torch.Tensor] = []
        fine: list[torch.Tensor] = []
        logits: list[torch.Tensor] = []
        for t in range(steps):
            hx = torch.cat([h_c, h_f, c_s, f_s], dim=1)
            g = self.G(hx)
            if cond_g is not None:
                g = g + cond_g
            i_e = torch.addmm(b_e, hx[:, 2 * n :], self.w_e)
            ru_c, r_e_c, ru_f, r_e_f = g.split([2 * n, n, 2 * n, n], dim=1)
            i_e_c, i_e_f = i_e.split([n, n], dim=1)
            h_c = _cell(ru_c, r_e_c, i_e_c, h_c)
            coarse_logits = self.O2(self.O1.forward_relu(h_c))
            if forced is not None:
                c = forced[:, t, :1]
            elif greedy:
                c = coarse_logits.argmax(dim=1, keepdim=True)
            else:
                c = _pick(coarse_logits, noise_c[t], inv_temp, top_k, top_p)
            c_t = c.float()
            c_s = c_t * self.scale - 1.0
            ru_f = torch.addcmul(ru_f, c_t, self.w_ct_ru)
            h_f = _cell(ru_f, r_e_f, torch.addcmul(i_e_f, c_t, self.w_ct_e), h_f)
            fine_logits = self.O4(self.O3.forward_relu(h_f))
            if forced is not None:
                f = forced[:, t, 1:]
                logits.append(torch.stack([coarse_logits, fine_logits], dim=1))
            elif greedy:
                f = fine_logits.argmax(dim=1, keepdim=True)
            else:
                f = _pick(fine_logits, noise_f[t], inv_temp, top_k, top_p)
            f_s = f.float() * self.scale - 1.0
            coarse.append(c)
            fine.append(f)
        out_logits = torch.stack(logits, dim=1) if len(logits) > 0 else torch.empty(0)
        codes = torch.stack([torch.cat(coarse, dim=1), torch.cat(fine, dim=1)], dim=2)
        return codes, out_logits, torch.cat([h_c, h_f], dim=1)


def conditioning_terms(
    model: Any, cell: torch.jit.ScriptModule, state: Any
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """The per-clip terms of a ``WaveRNNState`` (V h of eq. 2, R_b b of eq. 3) in ``cell``'s layout."""
    batch = state.h.shape[0]
    if not model.conditioned and model.prior is None:
        return None, torch.zeros(batch, model.config.hidden)
    extra_i = (state.gi_bias - model.gru.bias_ih_l0)[:, cell.order]
    extra_h = (state.gh_bias - model.gru.bias_hh_l0)[:, cell.order]
    cond_e = extra_i[:, cell.is_e]
    extra_i[:, cell.is_e] = 0
    return extra_h + extra_i, cond_e


def run_fused(
    model: Any,
    cell: torch.jit.ScriptModule,
    num_samples: int,
    state: Any,
    policy: SamplingPolicy,
    progress: Callable[[int, int], None] | None = None,
    frames: Callable[[Any], Any] | None = None,
) -> torch.Tensor:
    """Generate codes (B, num_samples, 2) with ``cell`` from ``state`` (a ``WaveRNNState``); with ``frames``
    (the envelope variant's next-frame step), one frame of ``model.hop`` samples per call."""
    batch = state.h.shape[0]
    cond_g, cond_e = conditioning_terms(model, cell, state)
    h = state.h
    prev = torch.tensor(model.codec.silence, dtype=torch.long).expand(batch, 2)
    chunk = model.hop if frames is not None else max(1, min(4096, (1 << 20) // (batch * 2 * 256)))
    pieces = []
    for start in range(0, num_samples, chunk):
        steps = min(chunk, num_samples - start)
        if frames is not None:
            state = frames(state)
            cond_g, cond_e = conditioning_terms(model, cell, state)
        if policy.greedy:
            noise = torch.empty(0, 2, batch, 256)
        else:  # Gumbel(0, 1) noise: argmax(logits + noise) samples softmax(logits)
            noise = torch.rand(steps, 2, batch, 256, generator=policy.generator).log_().neg_().log_().neg_()
        codes, _, h = cell(
            h,
            prev,
            cond_g,
            cond_e,
            noise,
            steps,
            1.0 / policy.temperature,
            policy.top_k,
            policy.top_p,
            policy.greedy,
            None,
        )
        prev = codes[:, -1]
        pieces.append(codes)
        if progress is not None:
            progress(start + steps, num_samples)
    return torch.cat(pieces, dim=1)
