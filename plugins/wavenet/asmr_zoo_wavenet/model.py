"""WaveNet (van den Oord et al. 2016) with global conditioning, as used by "ASMR Is All You Need".

Equations of the WaveNet paper implemented here:
  eq. 5  z = tanh(W_f * x) . sigmoid(W_g * x)                            gated activation
  eq. 6  z = tanh(W_f * x + V_f^T h) . sigmoid(W_g * x + V_g^T h)        global conditioning on h
  local  z = tanh(W_f * x + V_f * y) . sigmoid(W_g * x + V_g * y)        local conditioning (WaveNet §2.5)

The envelope variant (``envelope_levels > 0``; beyond the paper) adds a frame-rate loudness prior
(``asmr_zoo.envelope``): y is the loudness of the current 10 ms frame (in ``envelope_bands`` bands), taken
from the audio in training and drawn from the trigger-conditioned prior during generation, so the rhythm of a
trigger (tap trains, strokes) no longer has to fit in the receptive field, and with several bands its
spectral shape (a rumble, a bright crackle) is drawn per frame too. With ``envelope_loudness`` the blocks read
one value, the broadband loudness of the frame's bands, and the bands shape the output through the band
post-filter (``asmr_zoo.envelope.enforce_bands``).

Training runs the whole window in one parallel pass of dilated causal convolutions. Generation uses the
fast WaveNet algorithm (Paine et al. 2016): every layer keeps a queue of its past inputs, so one step costs
a matrix-vector product per layer instead of a pass over the receptive field. ``generate_naive`` is the
slow reference that recomputes the receptive field for every sample.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

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
from asmr_zoo.sampling import filter_logits, pick_with_policy
from asmr_zoo.validation import check_choice


class GlobalConditioner(Conditioner):
    """A learned trigger embedding h added to every layer's filter and gate (WaveNet eq. 6)."""

    name = "global"
    description = "a learned trigger embedding added to every layer's filter and gate (WaveNet eq. 6)"


@dataclass
class WaveNetConfig(ModelConfig):
    """The small CPU-friendly default; ``WaveNet.presets`` holds the paper's sizes."""

    layers: int = 10  # residual blocks per stack, dilations 1, 2, 4 ... 2**(layers - 1)
    stacks: int = 2  # how many times the dilation cycle repeats
    input_encoding: str = "onehot"  # "onehot" or "embedding" (a learned embedding of the mu-law codes)
    input_channels: int = 256  # one-hot width (= the codec's 256 classes) or the embedding width
    residual_channels: int = 64
    dilation_channels: int = 64  # width of the filter and of the gate convolutions
    skip_channels: int = 128
    end_channels: int = 128
    cond_channels: int = 16  # width of the trigger embedding h (global conditioning only)
    envelope_levels: int = 0  # > 0: a loudness prior with this many levels conditions every block locally
    envelope_hidden: int = 128  # the prior's GRU size
    envelope_sampled: float = 0.0  # in training, the share of the prior's history that is its own draws
    envelope_guidance: float = 0.0  # in generation, the band prior's trigger guidance s (asmr_zoo.guidance); 0: off
    envelope_bands: int = 1  # 1: broadband loudness; more: the loudness of that many mel-spaced bands
    envelope_loudness: int = 0  # > 0 (with bands): the blocks read the bands' broadband loudness in these levels
    sample_window: int = 0  # > 0: in training, the sample loss covers a crop this long (the prior: the window)
    sample_batch: int = 0  # > 0: in training, the sample loss covers this many windows (the prior: the batch)
    fast_engine: str = "auto"  # cached generation: native (C), torch, or auto (C for small models and batches)
    fast_weights: str = "fp32"  # the C loop's weights: fp32 (exact) or int8 (per column; the torch loop stays fp32)
    checkpoint_activations: bool = False  # recompute each block in the backward pass: far less memory, slower


class ResidualBlock(nn.Module):
    """Dilated causal convolution (kernel 2), gated activation, residual and skip 1x1 convolutions."""

    def __init__(self, cfg: WaveNetConfig, dilation: int, conditioned: bool, last: bool) -> None:
        super().__init__()
        r, d = cfg.residual_channels, cfg.dilation_channels
        local = local_channels(cfg.envelope_levels, cfg.envelope_bands, cfg.envelope_loudness)
        self.local_filter = nn.Conv1d(local, d, 1, bias=False) if local else None  # V_f of local conditioning
        self.local_gate = nn.Conv1d(local, d, 1, bias=False) if local else None  # V_g
        self.dilation = dilation
        self.filter = nn.Conv1d(r, d, 2, dilation=dilation)  # W_f
        self.gate = nn.Conv1d(r, d, 2, dilation=dilation)  # W_g
        self.cond_filter = nn.Linear(cfg.cond_channels, d, bias=False) if conditioned else None  # V_f
        self.cond_gate = nn.Linear(cfg.cond_channels, d, bias=False) if conditioned else None  # V_g
        self.residual = None if last else nn.Conv1d(d, r, 1)  # the last block's residual output is unused
        self.skip = nn.Conv1d(d, cfg.skip_channels, 1)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor | None, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x ``(B, R, T)``, h ``(B, cond_channels)`` or None, y ``(B, bands, T)`` or None -> (residual, skip)."""
        padded = F.pad(x, (self.dilation, 0))  # causal: output t sees inputs t - dilation and t
        f, g = self.filter(padded), self.gate(padded)
        if h is not None:
            f = f + self.cond_filter(h).unsqueeze(-1)  # eq. 6: V_f^T h, broadcast over time
            g = g + self.cond_gate(h).unsqueeze(-1)  # eq. 6: V_g^T h
        if y is not None:
            f = f + self.local_filter(y)  # local conditioning: V_f * y (a 1x1 convolution)
            g = g + self.local_gate(y)  # V_g * y
        z = torch.tanh(f) * torch.sigmoid(g)  # eq. 5 (eq. 6 with the conditioning above)
        out = x if self.residual is None else x + self.residual(z)
        return out, self.skip(z)


@dataclass
class PackedBlock:
    """One block's weights laid out for single-step matrix products, and its scratch tensors."""

    filter_gate: torch.Tensor  # (2R + 1 + E, 2D): [W at t - dilation; W at t; bias; V] -> [filter, gate]
    residual: torch.Tensor | None  # (D + 1, R): the residual 1x1 conv, its bias as the last row
    fg: torch.Tensor  # (B, 2D): the filter and gate pre-activations
    f: torch.Tensor  # (B, D) view of fg: the filter half
    g: torch.Tensor  # (B, D) view of fg: the gate half
    z: torch.Tensor  # (B, D + 1) view into ``WaveNetState.z``: this block's z and a column of ones
    gated: torch.Tensor  # (B, D) view of z without the ones: where eq. 5 writes


@dataclass
class WaveNetState:
    """Generation state: per-layer queues of past inputs (fast WaveNet) and the packed weights."""

    queues: list[deque[torch.Tensor]]  # per block: its last ``dilation`` inputs (B, R), oldest first
    input_past: torch.Tensor  # (B, R): the input convolution's tap on the previous code
    input_table: torch.Tensor  # (2, C, R): the input convolution's taps [t - 1, t] for each code
    input_bias: torch.Tensor  # (R,)
    context: torch.Tensor  # (B, 1 + E [+ bands]): [1, h (, y)], the tail of every block's input row
    blocks: list[PackedBlock]
    z: torch.Tensor  # (B, blocks * (D + 1)): every block's [z, 1], for one skip product over all blocks
    skip: torch.Tensor  # (blocks * (D + 1), S): all skip 1x1 convs, biases in the ones rows
    envelope: EnvelopeState | None = None  # the loudness prior's generation state (envelope variant)


FAST_ENGINES = ("auto", "native", "torch")
FAST_WEIGHTS = ("fp32", "int8")
# auto: the C loop up to this batch, and for larger models at batch 1 only (benchmarks/bench_wavenet.py: the
# demo and small presets run 5-18x faster in C at batch 1; the paper preset's 292 MB stream from memory as
# one sequential read in C, 2.2x torch's mat-vecs at batch 1, but the C loop runs clips one after the other,
# so from a few clips on torch's batched products win)
NATIVE_BATCH = 8
NATIVE_MAX_PARAMETERS = 4_000_000


class WaveNet(Model):
    """WaveNet: a causal input convolution, stacks of gated residual blocks, skip connections, 256 logits."""

    name = "wavenet"
    codec_name = "mulaw8"
    conditioners = ("none", "global")
    Config = WaveNetConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # Table 1 of "ASMR Is All You Need": 10 layers x 5 stacks; 73.1 M parameters (72.3 M unconditioned).
        "paper": dict(
            layers=10,
            stacks=5,
            input_channels=256,
            residual_channels=512,
            dilation_channels=512,
            skip_channels=256,
            end_channels=256,
            cond_channels=16,
            sample_rate=16000,
            window=32000,
        ),
        "small": {},  # the defaults of WaveNetConfig: about 0.7 M parameters, receptive field 2048
        "demo": dict(  # the shipped demo checkpoints: about 0.1 M parameters, receptive field 513
            layers=9,
            stacks=1,
            input_encoding="embedding",
            input_channels=32,
            residual_channels=32,
            dilation_channels=32,
            skip_channels=64,
            end_channels=64,
            cond_channels=8,
            window=4000,
        ),
        "tiny": dict(
            layers=4,
            stacks=2,
            input_encoding="embedding",
            input_channels=8,
            residual_channels=8,
            dilation_channels=8,
            skip_channels=16,
            end_channels=16,
            cond_channels=4,
            window=256,
        ),
    }

    def __init__(self, config: WaveNetConfig, conditioner: Conditioner, codec: Codec) -> None:
        super().__init__(config, conditioner, codec)
        c, classes = config, codec.classes
        if c.layers < 1 or c.stacks < 1:
            raise UsageError(f"wavenet needs layers >= 1 and stacks >= 1, got {c.layers} and {c.stacks}")
        if c.input_encoding not in ("onehot", "embedding"):
            raise UsageError(f"input_encoding must be 'onehot' or 'embedding', got '{c.input_encoding}'")
        if c.input_encoding == "onehot" and c.input_channels != classes:
            raise UsageError(f"one-hot input has {classes} channels (the codec's classes), got {c.input_channels}")
        self.embed = nn.Embedding(classes, c.input_channels) if c.input_encoding == "embedding" else None
        self.input_conv = nn.Conv1d(c.input_channels, c.residual_channels, 2)  # causal, kernel 2
        self.trigger_embedding = (
            nn.Embedding(len(conditioner), c.cond_channels) if conditioner.conditioned else None
        )  # h of eq. 6
        dilations = [2**i for _ in range(c.stacks) for i in range(c.layers)]
        self.blocks = nn.ModuleList(
            ResidualBlock(c, d, conditioner.conditioned, last=i == len(dilations) - 1) for i, d in enumerate(dilations)
        )
        self.end1 = nn.Conv1d(c.skip_channels, c.end_channels, 1)
        self.end2 = nn.Conv1d(c.end_channels, classes, 1)
        self.silence_code = codec.silence[0]
        self.check_fast_path(c)
        envelope = (c.envelope_levels, c.envelope_bands, c.envelope_loudness, c.sample_window, c.sample_batch)
        check_config(*envelope, c.envelope_sampled, c.envelope_guidance, conditioner.conditioned)
        self.hop = frame_hop(c.sample_rate)
        self.prior = (
            EnvelopePrior(
                c.envelope_levels,
                c.envelope_hidden,
                c.cond_channels if conditioner.conditioned else 0,
                c.envelope_bands,
            )
            if c.envelope_levels
            else None
        )

    def check_fast_path(self, config: WaveNetConfig) -> None:
        check_choice("fast_engine", config.fast_engine, FAST_ENGINES)
        check_choice("fast_weights", config.fast_weights, FAST_WEIGHTS)
        if config.fast_weights == "int8" and config.fast_engine == "torch":
            raise UsageError("fast_weights=int8 is the C loop's (fast_engine native or auto); the torch loop is fp32")

    @property
    def receptive_field(self) -> int:
        """How many codes a logit sees: logits[:, t] depends on codes[:, t - RF] .. codes[:, t - 1]."""
        return 1 + 1 + sum(block.dilation for block in self.blocks)  # input conv (kernel 2) + blocks

    def trigger_embeddings(self) -> torch.Tensor | None:
        """The learned trigger embeddings h ``(vocabulary, cond_channels)``, or None for the baseline."""
        return None if self.trigger_embedding is None else self.trigger_embedding.weight.detach()

    def _trigger(self, cond: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """The trigger embedding h ``(B, cond_channels)``, or None for the baseline."""
        if self.trigger_embedding is None:
            if cond is not None:
                raise UsageError("this wavenet is unconditioned (conditioner 'none'); pass cond=None")
            return None
        if cond is None or cond.shape[0] != batch:
            got = None if cond is None else tuple(cond.shape)
            raise UsageError(f"global conditioning needs one trigger (or blend) per clip ({batch}), got {got}")
        return self.conditioner.vectors(cond, self.trigger_embedding.weight)  # h of eq. 6

    def _guidance(self, batch: int) -> TriggerGuidance | None:
        """The prior's trigger guidance (``envelope_guidance``), its rivals every trigger's h, or None."""
        if not self.config.envelope_guidance:
            return None
        count = len(self.conditioner.vocabulary)
        rivals = self._trigger(torch.arange(count, device=self.end2.weight.device), count)
        return TriggerGuidance.start(self.config.envelope_guidance, rivals, batch, self.prior.gru.hidden_size)

    def folded_state(self, index: int) -> dict[str, torch.Tensor]:
        """Eq. 6 with one trigger: V_f^T h and V_g^T h are the same at every step, so they fold into the
        filter and gate biases (and h into the prior's input bias)."""
        with torch.no_grad():
            h = self._trigger(torch.tensor([index]), 1)[0]
            state = {
                k: v.detach().clone()
                for k, v in self.state_dict().items()
                if not k.startswith("trigger_embedding.") and ".cond_" not in k
            }
            for i, block in enumerate(self.blocks):
                state[f"blocks.{i}.filter.bias"] += block.cond_filter(h)  # eq. 6: W_f * x + (b_f + V_f^T h)
                state[f"blocks.{i}.gate.bias"] += block.cond_gate(h)  # W_g * x + (b_g + V_g^T h)
            if self.prior is not None:
                self.prior.fold(state, "prior.", h)
        return state

    def _input_weights(self) -> torch.Tensor:
        """(C, input_channels): the input vector of each code (the one-hot identity or the embedding)."""
        if self.embed is None:
            weight = self.input_conv.weight
            return torch.eye(self.codec.classes, dtype=weight.dtype, device=weight.device)
        return self.embed.weight

    def forward(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor | EnvelopeLogits:
        """codes ``(B, T, 1)`` -> logits ``(B, T, 1, 256)``; logits[:, t] predicts codes[:, t].

        The envelope variant returns ``EnvelopeLogits``: the sample logits given the window's own loudness,
        and the prior's logits of that loudness; in training, the sample part covers ``sample_window`` of
        the first ``sample_batch`` windows."""
        h = self._trigger(cond, codes.shape[0])
        if self.prior is None:
            return self._sample_logits(codes, h, None)
        levels = frame_levels(self.codec.decode(codes), self.hop, self.prior.levels, self.prior.bands)
        frames = self.prior(levels, h, self.config.envelope_sampled if self.training else 0.0)
        y = local_inputs(levels, self.prior.levels, self.hop, codes.shape[1], self.config.envelope_loudness)
        y = y.transpose(1, 2)  # (B, local channels, T)
        if self.training and 0 < self.config.sample_batch < codes.shape[0]:  # the prior has read every window
            keep = self.config.sample_batch
            codes, y, h = codes[:keep], y[:keep], None if h is None else h[:keep]
        crop, length = self.config.sample_window, codes.shape[1]
        if not (self.training and 0 < crop < length):
            return EnvelopeLogits(self._sample_logits(codes, h, y), frames, levels, 0)
        offset = crop_offset(codes, crop)
        start = max(0, offset - self.receptive_field)  # enough context that the crop's logits are exact
        logits = self._sample_logits(codes[:, start : offset + crop], h, y[..., start : offset + crop])
        return EnvelopeLogits(logits[:, offset - start :], frames, levels, offset)

    def frame_prior(self) -> EnvelopePrior | None:
        return self.prior

    def prior_loss(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The envelope variant's prior alone: -log p(e) of the windows' loudness, nats per sample."""
        h = self._trigger(cond, codes.shape[0])
        return prior_loss(self.prior, self.codec.decode(codes), self.hop, h, self.config.envelope_sampled)

    def loss_from_logits(self, logits: torch.Tensor | EnvelopeLogits, codes: torch.Tensor) -> torch.Tensor:
        """Mean nats per sample; for the envelope variant, -log p(x | e) per sample plus -log p(e) spread
        over the window's samples (a two-part code length for x)."""
        if not isinstance(logits, EnvelopeLogits):
            return super().loss_from_logits(logits, codes)
        target = codes[: logits.samples.shape[0], logits.offset : logits.offset + logits.samples.shape[1]]
        samples = F.cross_entropy(logits.samples.reshape(-1, self.codec.classes), target.reshape(-1))
        return samples + logits.frame_nats() / codes.shape[:2].numel()

    def _sample_logits(self, codes: torch.Tensor, h: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor:
        shifted = F.pad(codes[..., 0], (1, -1), value=self.silence_code)  # x[t] = codes[t - 1], silence first
        x = F.embedding(shifted, self._input_weights()).transpose(1, 2)  # (B, input_channels, T)
        x = self.input_conv(F.pad(x, (1, 0)))
        skips = 0
        recompute = self.config.checkpoint_activations and torch.is_grad_enabled()
        for block in self.blocks:
            if recompute:  # keep only each block's input; its gates are recomputed in the backward pass
                x, skip = checkpoint(block, x, h, y, use_reentrant=False)
            else:
                x, skip = block(x, h, y)
            skips = skips + skip
        logits = self.end2(F.relu(self.end1(F.relu(skips))))  # relu -> 1x1 -> relu -> 1x1, no softmax
        return logits.transpose(1, 2).unsqueeze(2)

    # -- cached generation (fast WaveNet) ---------------------------------------------------------

    @torch.no_grad()
    def init_state(self, batch: int, cond: torch.Tensor | None = None) -> WaveNetState:
        """Queues of zeros (the padding the forward pass sees) and the weights packed for stepping."""
        h = self._trigger(cond, batch)
        weight = self.input_conv.weight  # (R, input_channels, 2)
        d = self.config.dilation_channels
        context = weight.new_ones(batch, 1) if h is None else torch.cat([weight.new_ones(batch, 1), h], dim=1)
        if self.prior is not None:
            y = weight.new_zeros(batch, self.blocks[0].local_filter.in_channels)  # set per frame
            context = torch.cat([context, y], dim=1)
        z = weight.new_ones(batch, len(self.blocks), d + 1)
        blocks, skips = [], []
        for i, block in enumerate(self.blocks):
            filter_gate = torch.cat([block.filter.weight, block.gate.weight])  # (2D, R, 2)
            bias = torch.cat([block.filter.bias, block.gate.bias])
            rows = [filter_gate[..., 0].t(), filter_gate[..., 1].t(), bias[None]]
            if h is not None:
                rows.append(torch.cat([block.cond_filter.weight, block.cond_gate.weight]).t())  # V of eq. 6
            if self.prior is not None:
                rows.append(torch.cat([block.local_filter.weight, block.local_gate.weight])[..., 0].t())  # V * y
            residual = None
            if block.residual is not None:
                residual = torch.cat([block.residual.weight[..., 0].t(), block.residual.bias[None]])
            fg = weight.new_empty(batch, 2 * d)
            blocks.append(
                PackedBlock(
                    filter_gate=torch.cat(rows),
                    residual=residual,
                    fg=fg,
                    f=fg[:, :d],
                    g=fg[:, d:],
                    z=z[:, i],
                    gated=z[:, i, :d],
                )
            )
            skips.append(torch.cat([block.skip.weight[..., 0].t(), block.skip.bias[None]]))
        zeros = weight.new_zeros(batch, weight.shape[0])
        envelope = None
        if self.prior is not None:
            envelope = EnvelopeState(*self.prior.start(batch, weight.device), h, guidance=self._guidance(batch))
        return WaveNetState(
            queues=[deque([zeros] * block.dilation, maxlen=block.dilation) for block in self.blocks],
            input_past=zeros,
            input_table=torch.einsum("ci,rik->kcr", self._input_weights(), weight).contiguous(),
            input_bias=self.input_conv.bias,
            context=context,
            blocks=blocks,
            z=z.view(batch, -1),
            skip=torch.cat(skips),
            envelope=envelope,
        )

    @torch.no_grad()
    def step_logits(
        self,
        code: torch.Tensor,
        state: WaveNetState,
        pick_level: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Consume the previous codes ``(B,)``; return the next sample's logits ``(B, 256)``. The envelope
        variant draws the next frame's loudness with ``pick_level(prior logits (B, levels)) -> (B,)`` at
        every frame start."""
        env = state.envelope
        if env is not None:
            if env.t % self.hop == 0:
                if pick_level is None:
                    raise UsageError("the envelope variant needs pick_level to draw its loudness frames")
                self.draw_frame(state, pick_level)
            env.t += 1
        x = state.input_past + state.input_table[1, code] + state.input_bias  # causal input conv, kernel 2
        state.input_past = state.input_table[0, code]
        for queue, block in zip(state.queues, state.blocks, strict=True):
            row = torch.cat([queue[0], x, state.context], dim=1)  # inputs at t - dilation and t, then [1, h]
            queue.append(x)  # the queue drops its oldest entry
            torch.mm(row, block.filter_gate, out=block.fg)  # W_f * x + V_f^T h and W_g * x + V_g^T h
            torch.mul(block.f.tanh_(), block.g.sigmoid_(), out=block.gated)  # eq. 5 / eq. 6
            if block.residual is not None:
                x = torch.addmm(x, block.z, block.residual)  # x + residual 1x1 conv (with its bias)
        skips = state.z @ state.skip  # the sum of every block's skip 1x1 conv
        hidden = F.relu(F.linear(F.relu(skips), self.end1.weight[..., 0], self.end1.bias))
        return F.linear(hidden, self.end2.weight[..., 0], self.end2.bias)

    def draw_frame(self, state: WaveNetState, pick_level: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """The envelope variant's next loudness frame: step the prior, pick its levels band by band, and make
        them the y that every block reads (the last context columns) for the frame's samples."""
        y = next_frame(self.prior, state.envelope, pick_level, self.config.envelope_loudness)
        state.context[:, -y.shape[1] :] = y

    def finish(self, wav: torch.Tensor, state: WaveNetState) -> torch.Tensor:
        """The band post-filter of a multi-band envelope (``asmr_zoo.envelope.finish``)."""
        return finish(wav, state.envelope, self.prior, self.hop)

    @torch.no_grad()
    def generate_fast(
        self,
        num_samples: int,
        state: WaveNetState,
        policy: SamplingPolicy,
        progress: Callable[[int, int], None] | None = None,
    ) -> torch.Tensor:
        """The cached loop fused with the sampler's policy: codes ``(B, num_samples, 1)``, from silence; in C
        (``native.py``) or in torch, as ``fast_engine`` picks."""
        batch = state.input_past.shape[0]
        if self.fast_engine(batch) == "native":
            from asmr_zoo_wavenet.native import run_native

            return run_native(self, num_samples, state, policy, progress)
        out = torch.empty(batch, num_samples, 1, dtype=torch.long)
        code = torch.full((batch,), self.silence_code, dtype=torch.long)
        every = max(1, num_samples // 200)
        pick_level = lambda logits: sample(logits, policy)  # noqa: E731
        for t in range(num_samples):
            code = sample(self.step_logits(code, state, pick_level), policy)
            out[:, t, 0] = code
            if progress is not None and ((t + 1) % every == 0 or t + 1 == num_samples):
                progress(t + 1, num_samples)
        return out

    def fast_engine(self, batch: int) -> str:
        """``config.fast_engine``, with ``auto`` resolved: the C loop up to batch ``NATIVE_BATCH`` (models over
        ``NATIVE_MAX_PARAMETERS``: at batch 1; int8 weights, which only it takes: at any batch), where it
        builds, on float32 CPU weights; else torch."""
        engine = self.config.fast_engine
        weight = self.end2.weight
        large = sum(p.numel() for p in self.parameters()) > NATIVE_MAX_PARAMETERS
        batched = batch > NATIVE_BATCH or (large and batch > 1)
        if engine == "torch" or (engine == "auto" and batched and self.config.fast_weights == "fp32"):
            return "torch"
        if weight.device.type != "cpu" or weight.dtype != torch.float32:
            if engine == "native":
                raise UsageError("fast_engine=native runs on float32 CPU weights only; use fast_engine=torch")
            return "torch"
        from asmr_zoo_wavenet import native

        return native_or("torch", f"fast_engine={engine}", native.library, "generating with the slower torch loop")

    def step(
        self, prev: torch.Tensor, state: WaveNetState, pick: Pick
    ) -> tuple[torch.Tensor, torch.Tensor, WaveNetState]:
        """One cached step: previous codes ``(B, 1)`` -> (codes ``(B, 1)``, logits ``(B, 1, 256)``, state).
        The envelope variant's loudness levels are picked as head 1 (after the sample's head 0)."""
        logits = self.step_logits(prev[:, 0], state, lambda level_logits: pick(level_logits, 1))
        return pick(logits, 0).unsqueeze(1), logits.unsqueeze(1), state


def sample(logits: torch.Tensor, policy: SamplingPolicy) -> torch.Tensor:
    """One class per row of ``logits`` ``(B, C)``, from the distribution ``pick_with_policy`` draws from.

    The Gumbel-max trick: argmax(logits + Gumbel noise) is a draw from softmax(logits), and filtered
    classes (-inf) are never drawn; a few times cheaper than ``torch.multinomial`` for a batch.
    """
    if policy.greedy:
        return logits.argmax(dim=-1)
    uniform = torch.rand(logits.shape, generator=policy.generator, device=logits.device)  # in [0, 1)
    return (filter_logits(logits.float(), policy) - torch.log(-torch.log(uniform))).argmax(dim=-1)


@torch.no_grad()
def generate_naive(
    model: WaveNet,
    num_samples: int,
    cond: torch.Tensor | None = None,
    policy: SamplingPolicy | None = None,
    batch: int = 1,
    prompt: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference generator: a full forward pass over the receptive field for every sample.

    Continues ``prompt`` (codes ``(B, P, 1)``; by default generation starts from silence). Returns the new
    codes ``(B, num_samples, 1)`` and their logits ``(B, num_samples, 1, 256)``. It picks with
    ``pick_with_policy``: with the same policy and seed it draws what ``step`` with that pick draws.
    """
    if model.prior is not None:
        raise UsageError("generate_naive has no envelope prior; use the cached generation")
    policy = policy or SamplingPolicy()
    batch = batch if cond is None else cond.shape[0]
    prompt = torch.empty(batch, 0, 1, dtype=torch.long) if prompt is None else prompt
    start, rf = prompt.shape[1], model.receptive_field
    codes = torch.cat([prompt, torch.full((batch, num_samples, 1), model.silence_code)], dim=1)
    logits = torch.empty(batch, num_samples, 1, model.codec.classes)
    for i, t in enumerate(range(start, start + num_samples)):
        window = codes[:, max(0, t - rf) : t + 1]  # codes t - RF .. t - 1, then the one being predicted
        logits[:, i] = model(window, cond)[:, -1]
        codes[:, t, 0] = pick_with_policy(logits[:, i, 0], policy)
    return codes[:, start:], logits
