"""WaveRNN (Kalchbrenner et al. 2018, "Efficient Neural Audio Synthesis") as used by "ASMR Is All You Need".

One GRU-style layer over 16-bit audio split into coarse and fine bytes (the ``pcm16`` codec), a hidden
state split into a coarse and a fine half, and a dual softmax. Equations (eq. 1: the WaveRNN cell;
eq. 2: gate-bias conditioning; eq. 3: concat conditioning):

    x_t = [c_{t-1}, f_{t-1}, c_t]                                     (scaled to [-1, 1])
    u_t = sigma(R_u h_{t-1} + I*_u x_t [+ V_u h])                     eq. 1 [eq. 2]
    r_t = sigma(R_r h_{t-1} + I*_r x_t [+ V_r h])
    e_t = tanh(r_t o (R_e h_{t-1}) + I*_e x_t [+ V_e h])
    h_t = u_t o h_{t-1} + (1 - u_t) o e_t
    y_c, y_f = split(h_t)
    P(c_t) = softmax(O2 relu(O1 y_c)),  P(f_t) = softmax(O4 relu(O3 y_f))

I* is masked so the current coarse sample c_t reaches only the fine half of the state. ``gate-bias`` adds
V h (h: the trigger embedding through a dense layer) to the gates; ``concat`` also lets R read the trigger
embedding b next to h_{t-1}: R [h_{t-1}; b] (eq. 3).

The envelope variant (``envelope_levels > 0``; beyond the paper) adds the frame-rate loudness prior of
``asmr_zoo.envelope``, read by the prior with the conditioning features h: the levels y_k of the current
10 ms frame enter every gate like another input, I* x_t + V h + V_y y_k (the local conditioning of the
WaveRNN paper's text-to-speech model). In training they come from the audio; in generation the prior draws
them once per frame. With ``envelope_loudness`` the gates read one value, the broadband loudness of the
frame's bands, and the bands shape the output through the band post-filter
(``asmr_zoo.envelope.enforce_bands``).

Training runs the input projections for all steps at once; only the recurrence is sequential: a C loop
with an exact backward pass (``recurrence.py``, every conditioner), or in torch ``nn.GRU`` with the masked
input matrix for ``none`` and ``gate-bias`` and a loop over the cell for ``concat``, whose per-clip R b term
sits inside r_t o (...). Generation has a step-by-step path (``step``) and a fused loop
(``generate_fast``): C with int8 or fp32 weights (``native.py``), or TorchScript with fp32, bf16 or int8.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from asmr_zoo.envelope import (
    EnvelopeLogits,
    EnvelopePrior,
    EnvelopeState,
    check_config,
    crop_offset,
    finish,
    frame_hop,
    frame_levels,
    local_channels,
    local_inputs,
    next_frame,
    prior_loss,
)
from asmr_zoo.errors import UsageError
from asmr_zoo.guidance import TriggerGuidance
from asmr_zoo.interfaces import Codec, Conditioner, Model, ModelConfig, Pick, SamplingPolicy
from asmr_zoo.native_build import native_or
from asmr_zoo.sampling import pick_with_policy
from asmr_zoo.validation import check_choice

CLASSES = 256
PRECISIONS = ("fp32", "bf16", "int8")
ENGINES = ("auto", "native", "torchscript")
TRAIN_ENGINES = ("auto", "native", "torch")


@dataclass
class WaveRNNConfig(ModelConfig):
    sample_rate: int = 22050
    window: int = 1000  # truncated-BPTT length in samples, as in the paper
    hidden: int = 896  # state size, split into coarse and fine halves
    cond_dim: int = 32  # trigger embedding and dense-layer size (conditioned models)
    coarse_weight: float = 1.0  # loss = coarse_weight * CE(coarse) + fine_weight * CE(fine)
    fine_weight: float = 1.0
    fast_weights: str = "int8"  # weights of the fused generation loop: fp32 (exact), bf16 or int8
    fast_engine: str = "auto"  # the fused loop: native (C), torchscript, or auto (native where it builds)
    train_engine: str = "auto"  # the training recurrence: native (C), torch, or auto (native where it builds)
    envelope_levels: int = 0  # > 0: a loudness prior with this many levels conditions every gate locally
    envelope_bands: int = 1  # 1: broadband loudness; more: the loudness of that many mel-spaced bands
    envelope_loudness: int = 0  # > 0 (with bands): the gates read the bands' broadband loudness in these levels
    envelope_hidden: int = 128  # the prior's GRU size
    envelope_sampled: float = 0.0  # in training, the share of the prior's history that is its own draws
    envelope_guidance: float = 0.0  # in generation, the band prior's trigger guidance s (asmr_zoo.guidance); 0: off
    sample_window: int = 0  # > 0: in training, the sample loss covers a crop this long (the prior: the window)
    sample_batch: int = 0  # > 0: in training, the sample loss covers this many windows (the prior: the batch)


class WaveRNNState(NamedTuple):
    """Recurrent state for ``step``: h_{t-1} and the per-clip conditioning terms of the gates."""

    h: torch.Tensor  # (B, H)
    gi_bias: torch.Tensor  # (B, 3H): input bias + V h (eq. 2) [+ V_y y_k, the envelope variant's frame]
    gh_bias: torch.Tensor  # (B, 3H): recurrent bias + R_b b (eq. 3)
    envelope: EnvelopeState | None = None  # the loudness prior's generation state (envelope variant)


def _cell(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Eq. 1 given the gate pre-activations ``gi = I* x_t (+ V h)`` and ``gh = R h_{t-1}``, both ``(B, 3n)``
    in nn.GRU's gate order (r, u, e); ``h`` is the matching part of h_{t-1} ``(B, n)``."""
    n = h.shape[-1]
    r, u = torch.sigmoid(gi[:, : 2 * n] + gh[:, : 2 * n]).chunk(2, dim=1)
    e = torch.tanh(gi[:, 2 * n :] + r * gh[:, 2 * n :])
    return e + u * (h - e)  # = u h + (1 - u) e


class WaveRNN(Model):
    """WaveRNN with a dual softmax over 16-bit coarse/fine samples; baseline, gate-bias or concat."""

    name = "wavernn"
    codec_name = "pcm16"
    conditioners = ("none", "gate-bias", "concat")
    Config = WaveRNNConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"hidden": 64, "cond_dim": 8, "window": 256},
        "small": {"hidden": 512},
        "demo": {"hidden": 128, "cond_dim": 16, "window": 1000},  # the shipped demo checkpoints
        "paper": {"hidden": 896, "window": 1000},
    }

    def __init__(self, config: WaveRNNConfig, conditioner: Conditioner, codec: Codec) -> None:
        super().__init__(config, conditioner, codec)
        if config.hidden < 2 or config.hidden % 2:
            raise UsageError(f"wavernn hidden size must be even and >= 2, got {config.hidden}")
        self.check_fast_path(config)
        check_choice("train_engine", config.train_engine, TRAIN_ENGINES)
        check_config(
            config.envelope_levels,
            config.envelope_bands,
            config.envelope_loudness,
            config.sample_window,
            config.sample_batch,
            config.envelope_sampled,
            config.envelope_guidance,
            conditioner.conditioned,
        )
        hidden, half = config.hidden, config.hidden // 2
        self.half = half
        self.conditioned = conditioner.conditioned
        self.concat = conditioner.equation() == "concat"
        self.cond_dim = cond_dim = config.cond_dim if self.conditioned else 0
        local = local_channels(config.envelope_levels, config.envelope_bands, config.envelope_loudness)
        inputs = 3 + cond_dim + local
        # gru.weight_ih_l0 = [I | V | V_y]: I (3H, 3) reads x_t, V (3H, cond_dim) the conditioning features,
        # V_y (3H, local) the envelope's levels; gru.weight_hh_l0 = R (3H, H) = [R_r; R_u; R_e], one mat-vec
        # for all three gates (nn.GRU's order).
        self.gru = nn.GRU(inputs, hidden, batch_first=True)
        mask = torch.ones(3, 2, half, inputs)  # (gate, coarse/fine half, unit, input)
        mask[:, 0, :, 2] = 0  # I*: c_t reaches only the fine half of every gate (eq. 1)
        self.register_buffer("input_mask", mask.reshape(3 * hidden, inputs), persistent=False)
        self.hop = frame_hop(config.sample_rate)
        self.prior = (
            EnvelopePrior(config.envelope_levels, config.envelope_hidden, cond_dim, config.envelope_bands)
            if config.envelope_levels
            else None
        )
        if self.conditioned:
            self.embedding = nn.Embedding(len(conditioner), config.cond_dim)  # b: one vector per trigger
            self.dense = nn.Linear(config.cond_dim, config.cond_dim)  # h = tanh(dense(b)), read by V (eq. 2)
        if self.concat:
            self.R_b = nn.Parameter(torch.empty(3 * hidden, config.cond_dim))  # R's columns reading b (eq. 3)
            nn.init.uniform_(self.R_b, -(hidden**-0.5), hidden**-0.5)
        self.O1, self.O2 = nn.Linear(half, half), nn.Linear(half, CLASSES)
        self.O3, self.O4 = nn.Linear(half, half), nn.Linear(half, CLASSES)
        self._fused: tuple[Any, Any] | None = None

    # -- shared pieces --------------------------------------------------------------------------------

    def _scale(self, codes: torch.Tensor) -> torch.Tensor:
        return self.codec.scale(codes)

    def _masked_input_weight(self) -> torch.Tensor:
        return self.gru.weight_ih_l0 * self.input_mask  # [I* | V]

    def _conditioning(self, cond: torch.Tensor | None, batch: int) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Per-clip conditioning: features h for V (eq. 2) or None, and the recurrent bias (+ R_b b, eq. 3)."""
        gh_bias = self.gru.bias_hh_l0.expand(batch, -1)
        if not self.conditioned:
            if cond is not None:
                raise UsageError("this wavernn model is unconditioned: pass no trigger (cond=None)")
            return None, gh_bias
        if cond is None:
            raise UsageError(
                f"this wavernn model is conditioned ({self.conditioner.name}): pass a trigger, one of "
                f"{', '.join(self.conditioner.vocabulary)}"
            )
        if not cond.is_floating_point() and cond.numel() == 1:
            cond = cond.reshape(-1).expand(batch)
        if cond.shape[0] != batch:
            raise UsageError(f"cond must hold one trigger (or blend) per clip ({batch}), got shape {tuple(cond.shape)}")
        b = self.conditioner.vectors(cond, self.embedding.weight)  # b: the trigger's (or blend's) embedding
        feats = torch.tanh(self.dense(b))  # the conditioning features h (eq. 2)
        if self.concat:
            gh_bias = gh_bias + b @ self.R_b.t()  # R [h_{t-1}; b] = R h_{t-1} + R_b b (eq. 3)
        return feats, gh_bias

    def _heads(self, h: torch.Tensor) -> torch.Tensor:
        """Dual softmax logits (..., 2, 256) from states (..., H)."""
        y_c, y_f = h.split(self.half, dim=-1)
        coarse = self.O2(F.relu(self.O1(y_c)))  # P(c_t) = softmax(O2 relu(O1 y_c))
        fine = self.O4(F.relu(self.O3(y_f)))  # P(f_t) = softmax(O4 relu(O3 y_f))
        return torch.stack([coarse, fine], dim=-2)

    def check_fast_path(self, config: WaveRNNConfig) -> None:
        check_choice("fast_weights", config.fast_weights, PRECISIONS)
        check_choice("fast_engine", config.fast_engine, ENGINES)
        if config.fast_engine == "native" and config.fast_weights == "bf16":
            raise UsageError("fast_engine=native takes fast_weights int8 or fp32; use fast_engine=torchscript for bf16")

    # -- training -------------------------------------------------------------------------------------

    def forward(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor | EnvelopeLogits:
        """codes ``(B, T, 2)`` -> logits ``(B, T, 2, 256)``; logits[:, t] predicts codes[:, t].

        The envelope variant returns ``EnvelopeLogits``: the sample logits given the window's own loudness,
        and the prior's logits of that loudness; in training, the sample part covers ``sample_window`` of
        the first ``sample_batch`` windows
        (the recurrence starting from a zero state there, as every truncated-BPTT window does)."""
        feats, gh_bias = self._conditioning(cond, codes.shape[0])
        if self.prior is None:
            return self._sample_logits(codes, feats, gh_bias, None)
        levels = frame_levels(self.codec.decode(codes), self.hop, self.prior.levels, self.prior.bands)
        frames = self.prior(levels, feats, self.config.envelope_sampled if self.training else 0.0)
        y = local_inputs(levels, self.prior.levels, self.hop, codes.shape[1], self.config.envelope_loudness)
        if self.training and 0 < self.config.sample_batch < codes.shape[0]:  # the prior has read every window
            keep = self.config.sample_batch
            codes, y, gh_bias = codes[:keep], y[:keep], gh_bias[:keep]
            feats = None if feats is None else feats[:keep]
        crop, offset = self.config.sample_window, 0
        if self.training and 0 < crop < codes.shape[1]:
            offset = crop_offset(codes, crop)
            codes, y = codes[:, offset : offset + crop], y[:, offset : offset + crop]
        return EnvelopeLogits(self._sample_logits(codes, feats, gh_bias, y), frames, levels, offset)

    def _sample_logits(
        self, codes: torch.Tensor, feats: torch.Tensor | None, gh_bias: torch.Tensor, y: torch.Tensor | None
    ) -> torch.Tensor:
        batch, steps, _ = codes.shape
        silence = torch.tensor(self.codec.silence, device=codes.device).expand(batch, 1, 2)
        prev = torch.cat([silence, codes[:, :-1]], dim=1)
        x = self._scale(torch.cat([prev, codes[..., :1]], dim=-1))  # x_t = [c_{t-1}, f_{t-1}, c_t]
        if feats is not None:  # eq. 2: V h enters like another input column, the same at every step
            x = torch.cat([x, feats[:, None].expand(batch, steps, -1)], dim=-1)
        if y is not None:  # local conditioning: V_y y_k, the levels of the sample's frame
            x = torch.cat([x, y], dim=-1)
        h0 = codes.new_zeros((1, batch, self.config.hidden), dtype=torch.float)
        weight_ih = self._masked_input_weight()
        if self.train_engine(codes) == "native":  # eq. 1 in C, for every conditioner (recurrence.py)
            from asmr_zoo_wavernn.recurrence import project, recurrence

            gi = project(x, weight_ih, self.gru.bias_ih_l0)
            return self._heads(recurrence(gi, gh_bias, self.gru.weight_hh_l0, h0[0]))
        if not self.concat:  # eq. 1 (+ eq. 2) is exactly nn.GRU with the masked input matrix
            states, _ = torch.func.functional_call(self.gru, {"weight_ih_l0": weight_ih}, (x, h0))
            return self._heads(states)
        gi = F.linear(x, weight_ih, self.gru.bias_ih_l0)  # input projections for all steps at once
        weight_hh, h, states = self.gru.weight_hh_l0, h0[0], []
        for gi_t in gi.unbind(1):  # eq. 3: the per-clip R_b b sits inside r_t o (...), so loop the cell
            h = _cell(gi_t, torch.addmm(gh_bias, h, weight_hh.t()), h)
            states.append(h)
        return self._heads(torch.stack(states, dim=1))

    def train_engine(self, codes: torch.Tensor) -> str:
        """The teacher-forced recurrence: ``native`` (C) where ``config.train_engine`` allows it, it builds and
        the weights are float32 on the CPU; else ``torch`` (``nn.GRU``, or a loop over the cell for concat)."""
        engine = self.config.train_engine
        if engine == "torch" or codes.device.type != "cpu" or self.gru.weight_hh_l0.dtype != torch.float32:
            if engine == "native":
                raise UsageError("train_engine=native runs on float32 CPU weights only; use train_engine=torch")
            return "torch"
        from asmr_zoo_wavernn import recurrence

        slower = "training with the slower torch recurrence"
        return native_or("torch", f"train_engine={engine}", recurrence.library, slower)

    def frame_prior(self) -> EnvelopePrior | None:
        return self.prior

    def prior_loss(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The envelope variant's prior alone: -log p(e) of the windows' loudness, nats per sample."""
        feats, _ = self._conditioning(cond, codes.shape[0])
        return prior_loss(self.prior, self.codec.decode(codes), self.hop, feats, self.config.envelope_sampled)

    def loss_from_logits(self, logits: torch.Tensor | EnvelopeLogits, codes: torch.Tensor) -> torch.Tensor:
        """coarse_weight * CE(coarse) + fine_weight * CE(fine), mean nats per sample; for the envelope
        variant, plus -log p(e) spread over the window's samples (a two-part code length for x)."""
        if not isinstance(logits, EnvelopeLogits):
            return self._sample_loss(logits, codes)
        target = codes[: logits.samples.shape[0], logits.offset : logits.offset + logits.samples.shape[1]]
        return self._sample_loss(logits.samples, target) + logits.frame_nats() / codes.shape[:2].numel()

    def _sample_loss(self, logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        nats = F.cross_entropy(logits.reshape(-1, CLASSES), codes.reshape(-1), reduction="none").view(-1, 2)
        weights = nats.new_tensor([self.config.coarse_weight, self.config.fine_weight])
        return (nats * weights).sum(1).mean()  # one pass over both heads: no per-head slices to backprop

    def trigger_embeddings(self) -> torch.Tensor | None:
        return self.embedding.weight if self.conditioner.conditioned else None

    def folded_state(self, index: int) -> dict[str, torch.Tensor]:
        """Eq. 2 and 3 with one trigger: V h and R_b b are the same at every step, so they fold into the
        gates' input and recurrent biases (and h into the prior's input bias)."""
        with torch.no_grad():
            feats, gh_bias = self._conditioning(torch.tensor([index]), 1)
            state = {
                k: v.detach().clone()
                for k, v in self.state_dict().items()
                if k.split(".")[0] not in ("embedding", "dense", "R_b")
            }
            weight = state["gru.weight_ih_l0"]
            state["gru.weight_ih_l0"] = torch.cat([weight[:, :3], weight[:, 3 + self.cond_dim :]], dim=1)
            state["gru.bias_ih_l0"] = self._input_bias(feats, None, 1)[0].clone()  # b_i + V h (eq. 2)
            state["gru.bias_hh_l0"] = gh_bias[0].clone()  # b_h (+ R_b b for concat, eq. 3)
            if self.prior is not None:
                self.prior.fold(state, "prior.", feats[0])
        return state

    # -- incremental generation -----------------------------------------------------------------------

    def init_state(self, batch: int, cond: torch.Tensor | None = None) -> WaveRNNState:
        feats, gh_bias = self._conditioning(cond, batch)
        gi_bias = self._input_bias(feats, None, batch)
        h = torch.zeros(batch, self.config.hidden, device=gi_bias.device)
        envelope = None
        if self.prior is not None:
            envelope = EnvelopeState(*self.prior.start(batch, h.device), feats, guidance=self._guidance(batch))
        return WaveRNNState(h, gi_bias, gh_bias, envelope)

    def _guidance(self, batch: int) -> TriggerGuidance | None:
        """The prior's trigger guidance (``envelope_guidance``), its rivals every trigger's features h, or None."""
        if not self.config.envelope_guidance:
            return None
        count = len(self.conditioner.vocabulary)
        rivals, _ = self._conditioning(torch.arange(count, device=self.gru.weight_hh_l0.device), count)
        return TriggerGuidance.start(self.config.envelope_guidance, rivals, batch, self.prior.gru.hidden_size)

    def _input_bias(self, feats: torch.Tensor | None, y: torch.Tensor | None, batch: int) -> torch.Tensor:
        """The gates' input terms that are not x_t: bias + V h (eq. 2) [+ V_y y_k] ``(B, 3H)``."""
        gi_bias = self.gru.bias_ih_l0.expand(batch, -1)
        weight = self.gru.weight_ih_l0
        if feats is not None:
            gi_bias = gi_bias + feats @ weight[:, 3 : 3 + self.cond_dim].t()  # V h (eq. 2)
        if y is not None:
            gi_bias = gi_bias + y @ weight[:, 3 + self.cond_dim :].t()  # V_y y_k
        return gi_bias

    def draw_frame(self, state: WaveRNNState, pick_level: Callable[[torch.Tensor], torch.Tensor]) -> WaveRNNState:
        """The envelope variant's next loudness frame: step the prior, pick its levels band by band with
        ``pick_level(logits (B, levels)) -> (B,)``, and put V_y y_k into the gates' input bias."""
        y = next_frame(self.prior, state.envelope, pick_level, self.config.envelope_loudness)
        return state._replace(gi_bias=self._input_bias(state.envelope.h, y, y.shape[0]))

    def finish(self, wav: torch.Tensor, state: WaveRNNState) -> torch.Tensor:
        """The band post-filter of a multi-band envelope (``asmr_zoo.envelope.finish``)."""
        return finish(wav, state.envelope, self.prior, self.hop)

    def step(self, prev: torch.Tensor, state: WaveRNNState, pick: Pick) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """One sample; the envelope variant first draws a new frame every ``hop`` samples (its levels are
        picked as head 2, after the coarse and fine heads 0 and 1)."""
        env = state.envelope
        if env is not None:
            if env.t % self.hop == 0:
                state = self.draw_frame(state, lambda logits: pick(logits, 2))
            env.t += 1
        batch, half = prev.shape[0], self.half
        weight_ih = self._masked_input_weight()
        gh = torch.addmm(state.gh_bias, state.h, self.gru.weight_hh_l0.t()).view(batch, 3, 2, half)  # R h_{t-1}
        gi = torch.addmm(state.gi_bias, self._scale(prev), weight_ih[:, :2].t())  # I* [c_{t-1}, f_{t-1}]
        gi = gi.view(batch, 3, 2, half)
        h_prev = state.h.view(batch, 2, half)
        y_c = _cell(gi[:, :, 0].reshape(batch, -1), gh[:, :, 0].reshape(batch, -1), h_prev[:, 0])
        coarse_logits = self.O2(F.relu(self.O1(y_c)))
        coarse = pick(coarse_logits, 0)  # c_t is chosen before the fine half is computed
        c_t = self._scale(coarse)[:, None] * weight_ih[:, 2].view(3, 2, half)[:, 1].reshape(1, -1)  # I* c_t
        y_f = _cell(gi[:, :, 1].reshape(batch, -1) + c_t, gh[:, :, 1].reshape(batch, -1), h_prev[:, 1])
        fine_logits = self.O4(F.relu(self.O3(y_f)))
        fine = pick(fine_logits, 1)
        codes = torch.stack([coarse, fine], dim=1)
        logits = torch.stack([coarse_logits, fine_logits], dim=1)
        return codes, logits, state._replace(h=torch.cat([y_c, y_f], dim=1))

    def generate_fast(
        self,
        num_samples: int,
        state: Any,
        policy: SamplingPolicy,
        progress: Callable[[int, int], None] | None = None,
    ) -> torch.Tensor:
        """The fused loop with ``config.fast_weights`` weights: the C loop, or TorchScript (``fast_engine``)."""
        engine = self.fast_engine()
        cell = self.fused_cell(engine=engine)
        frames = None
        if self.prior is not None:

            def frames(state: WaveRNNState) -> WaveRNNState:  # the loops run one frame per call
                state = self.draw_frame(state, lambda logits: pick_with_policy(logits, policy))
                state.envelope.t += self.hop
                return state

        if engine == "native":
            from asmr_zoo_wavernn.native import run_native

            return run_native(cell, num_samples, state, policy, progress, self.codec.silence, frames, self.hop)
        from asmr_zoo_wavernn.fused import run_fused

        return run_fused(self, cell, num_samples, state, policy, progress, frames)

    def fast_engine(self) -> str:
        """The engine ``generate_fast`` uses: ``config.fast_engine``, with ``auto`` resolved to ``native``
        where the C loop builds and takes the weights, else ``torchscript`` (with a warning)."""
        engine = self.config.fast_engine
        if engine == "torchscript" or (engine == "auto" and self.config.fast_weights == "bf16"):
            return "torchscript"
        from asmr_zoo_wavernn import native

        slower = "generating with the slower TorchScript loop"
        return native_or("torchscript", f"fast_engine={engine}", native.library, slower)

    def fused_cell(self, precision: str | None = None, engine: str | None = None) -> Any:
        """The generation cell for the current weights (cached until a parameter changes): a
        ``NativeCell`` or a TorchScript ``FusedCell``, for ``engine`` (default: ``fast_engine()``)."""
        precision = precision or self.config.fast_weights
        engine = engine or self.fast_engine()
        key = (precision, engine, tuple((p.data_ptr(), p._version) for p in self.parameters()))
        if self._fused is None or self._fused[0] != key:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # torch's quantized-tensor deprecation notices
                if engine == "native":
                    from asmr_zoo_wavernn.native import NativeCell

                    cell: Any = NativeCell(self, precision)
                else:
                    from asmr_zoo_wavernn.fused import FusedCell

                    cell = torch.jit.script(FusedCell(self, precision))
                self._fused = (key, cell)
        return self._fused[1]
