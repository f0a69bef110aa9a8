"""A frame-rate loudness prior: the slow part of a trigger (tap trains, strokes, syllables) for a sample model.

A sample-level autoregressive model sees tens of milliseconds; the rhythm of a trigger lives at 0.1-1 s.
So the audio is factorised in two levels, as hierarchical audio models do (SampleRNN; mel-conditioned
vocoders with a learned prior):

    p(x) = p(e) p(x | e),   e_k = quantised loudness of frame k (10 ms) of x

- ``frame_levels`` computes e from audio: RMS in dBFS per frame, clipped to [-72, 0] dB, quantised into
  ``levels`` steps. It is a deterministic function of x, so -log p(e) - log p(x | e) is the length of a
  two-part code for x: an honest bits-per-sample figure, comparable with the unigram baseline.
- ``EnvelopePrior`` models p(e) autoregressively: a GRU over frames, reading the previous level and the
  trigger embedding, with a softmax over levels. Generation steps it once per frame, so it needs no length
  in advance.
- The sample model reads ``level_value(e_k)`` as a local conditioning input for every sample of frame k.
"""

from __future__ import annotations

import torch
from torch import nn

FLOOR_DB = -72.0
FRAMES_PER_SECOND = 100


def frame_hop(sample_rate: int) -> int:
    """Samples per envelope frame (10 ms)."""
    return max(1, sample_rate // FRAMES_PER_SECOND)


def frame_levels(wav: torch.Tensor, hop: int, levels: int) -> torch.Tensor:
    """Quantised loudness ``(B, ceil(T / hop))`` (long, 0 .. levels - 1) of audio ``(B, T)`` in [-1, 1]."""
    batch, length = wav.shape
    frames = -(-length // hop)
    padded = torch.nn.functional.pad(wav.float(), (0, frames * hop - length))
    power = padded.view(batch, frames, hop).square().sum(-1)
    counts = torch.full((frames,), float(hop), device=wav.device)
    counts[-1] = length - (frames - 1) * hop  # the last frame may be partial
    db = 10 * torch.log10(power / counts + 1e-12)
    step = -FLOOR_DB / levels
    return ((db - FLOOR_DB) / step).floor().clamp(0, levels - 1).long()


def level_value(levels: torch.Tensor, count: int) -> torch.Tensor:
    """The sample model's local input for quantised levels: the bin centre scaled to [-1, 1]."""
    return (levels.float() + 0.5) * (2.0 / count) - 1.0


class EnvelopePrior(nn.Module):
    """p(e_k | e_{<k}, trigger): a GRU over loudness frames with a softmax over ``levels``."""

    def __init__(self, levels: int, hidden: int, cond_channels: int) -> None:
        super().__init__()
        self.levels = levels
        self.embed = nn.Embedding(levels + 1, 16)  # index ``levels``: the start token before frame 0
        self.gru = nn.GRU(16 + cond_channels, hidden, batch_first=True)
        self.out = nn.Linear(hidden, levels)

    def _inputs(self, previous: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        x = self.embed(previous)
        if h is not None:
            x = torch.cat([x, h[:, None].expand(-1, x.shape[1], -1)], dim=-1)
        return x

    def forward(self, levels: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        """Teacher-forced logits ``(B, F, levels)``: logits[:, k] predicts levels[:, k] from levels[:, :k]."""
        start = torch.full_like(levels[:, :1], self.levels)
        states, _ = self.gru(self._inputs(torch.cat([start, levels[:, :-1]], dim=1), h))
        return self.out(states)

    def start(self, batch: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generation state: (previous level = the start token ``(B, 1)``, GRU state ``(1, B, hidden)``)."""
        previous = torch.full((batch, 1), self.levels, dtype=torch.long, device=device)
        return previous, torch.zeros(1, batch, self.gru.hidden_size, device=device)

    def step(
        self, previous: torch.Tensor, state: torch.Tensor, h: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame: logits ``(B, levels)`` of the next level and the new GRU state."""
        out, state = self.gru(self._inputs(previous, h), state)
        return self.out(out[:, -1]), state
