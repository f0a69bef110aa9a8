"""Trigger guidance of a conditioned band prior at generation (beyond the papers; ``envelope_guidance``).

Free-running, a conditioned prior drifts towards what several triggers share (a massaging clip's bands fill
up and it sounds like sponge brushing). Guidance steers each draw towards what tells the asked trigger c
apart from the triggers the recent frames could also be, as classifier guidance does (Dhariwal & Nichol 2021;
the implicit classifier of classifier-free guidance, Ho & Salimans 2022), with the prior itself as the
classifier:

    log p~(e | e_<, c) = log p(e | e_<, c) + s (log p(e | e_<, c) - log sum_c' w_c' p(e | e_<, c'))

    w_c' = softmax_c' (L_c'),   L_c' = sum_j lambda^(age of j) log p(e_j | e_<j, c')

where c' runs over the vocabulary, each with its own GRU state on the same drawn history, and w is the
posterior of c' given the recent frames: the evidence L of each drawn band, decayed by ``MEMORY`` per frame
(a memory of about 100 ms). The bracket is the log-odds of c gained from e: the draw is tilted by p(c | e)^s.
Against the recent posterior, not a uniform mix, the draw is told apart from its close rivals only: against
all triggers alike, a tapping trigger's taps are smeared, since what sets it apart from the steady triggers is
not what sets it apart from the other taps. s = 0 is the prior's own distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MEMORY = 0.9  # per-frame decay of each trigger's evidence (10 ms frames: about 100 ms)
MAX_GUIDANCE = 20.0  # far past where it helps: the draws become the levels the rivals least expect


@dataclass
class TriggerGuidance:
    """The rival conditionings, their GRU states on the drawn history, and each one's recent evidence."""

    scale: float
    rivals: torch.Tensor  # (C, cond) the conditioning of every trigger of the vocabulary
    gru: torch.Tensor  # (1, B * C, hidden): each clip's history read under each trigger
    evidence: torch.Tensor  # (B, C): decayed log-likelihood of the drawn levels under each trigger
    logits: torch.Tensor | None = None  # (B, C, levels): the band being drawn, under each trigger

    @classmethod
    def start(cls, scale: float, rivals: torch.Tensor, batch: int, hidden: int) -> TriggerGuidance:
        count = rivals.shape[0]
        gru = rivals.new_zeros(1, batch * count, hidden)
        return cls(scale, rivals, gru, rivals.new_zeros(batch, count))

    def steer(self, own: torch.Tensor, rivals: torch.Tensor) -> torch.Tensor:
        """Guided logits ``(B, levels)`` of one band from its logits under the asked conditioning ``own``
        ``(B, levels)`` and under every rival ``(B, C, levels)``."""
        own = torch.log_softmax(own, -1)
        self.logits = torch.log_softmax(rivals, -1)
        weights = torch.log_softmax(self.evidence, -1)[..., None]
        mixture = torch.logsumexp(self.logits + weights, 1)
        return own + self.scale * (own - mixture)  # log p~ (the module's equation)

    def observe(self, drawn: torch.Tensor) -> None:
        """Add the drawn levels ``(B,)`` of the band just steered to each rival's evidence."""
        index = drawn[:, None, None].expand(-1, self.logits.shape[1], 1)
        self.evidence = self.evidence + self.logits.gather(2, index)[..., 0]

    def end_frame(self) -> None:
        self.evidence = self.evidence * MEMORY
