"""The example components: each implements an asmr-zoo interface in a few lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from asmr_zoo.interfaces import Codec, Model, ModelConfig
from asmr_zoo.sampling import PolicySampler


@dataclass
class BigramConfig(ModelConfig):
    window: int = 2000


class BigramModel(Model):
    """Logits for x_t from x_{t-1} alone (plus a per-trigger bias when conditioned with ``global``)."""

    name = "bigram"
    codec_name = "mulaw8"
    conditioners = ("none", "global")
    Config = BigramConfig

    def __init__(self, config: BigramConfig, conditioner: Any, codec: Codec) -> None:
        super().__init__(config, conditioner, codec)
        self.table = nn.Embedding(codec.classes, codec.classes)
        nn.init.zeros_(self.table.weight)  # start from the uniform distribution (8 bits per sample)
        self.bias = nn.Embedding(max(1, len(conditioner)), codec.classes) if conditioner.conditioned else None

    def _logits(self, prev: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        logits = self.table(prev)
        if self.bias is not None:
            logits = logits + self.bias(cond).view(-1, *([1] * (prev.dim() - 1)), logits.shape[-1])
        return logits

    def forward(self, codes: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        silence = torch.full_like(codes[:, :1, 0], self.codec.silence[0])
        prev = torch.cat([silence, codes[:, :-1, 0]], dim=1)
        return self._logits(prev, cond).unsqueeze(2)

    def init_state(self, batch: int, cond: torch.Tensor | None = None) -> Any:
        return cond

    def step(self, prev: torch.Tensor, state: Any, pick: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        logits = self._logits(prev[:, 0], state)
        return pick(logits, 0).unsqueeze(1), logits.unsqueeze(1), state


class MinPSampler(PolicySampler):
    """Sample only among classes whose probability is at least ``min_p`` times the top one."""

    name = "min-p"

    def __init__(self, *args: Any, min_p: float = 0.1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.min_p = min_p

    def pick(self, logits: torch.Tensor, head: int) -> torch.Tensor:
        probs = torch.softmax(logits.float() / self.policy.temperature, dim=-1)
        probs = probs * (probs >= self.min_p * probs.max(dim=-1, keepdim=True).values)
        return torch.multinomial(probs, 1, generator=self.policy.generator).squeeze(-1)


class Linear8(Codec):
    """Plain 8-bit linear quantisation of [-1, 1] into 256 classes."""

    name = "linear8"
    heads = 1

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        if not torch.isfinite(wav).all():
            raise ValueError("waveform has NaN or infinite samples")
        return torch.round((wav.clamp(-1, 1) + 1) * 127.5).long().unsqueeze(-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return codes[..., 0].float() / 127.5 - 1
