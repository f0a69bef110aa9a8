"""A frame-rate loudness prior: the slow part of a trigger (tap trains, strokes, syllables) for a sample model.

A sample-level autoregressive model sees tens of milliseconds; the rhythm of a trigger lives at 0.1-1 s.
So the audio is factorised in two levels, as hierarchical audio models do (SampleRNN; mel-conditioned
vocoders with a learned prior):

    p(x) = p(e) p(x | e),   e_k = quantised loudness of frame k (10 ms) of x, in one or more bands

- ``frame_levels`` computes e from audio. With one band: RMS in dBFS per frame. With more: the power of each
  band of a mel-spaced split of the spectrum (a Hann-windowed FFT of 20 ms centred on the frame), so e also
  carries the frame's spectral shape (a rumble, a bright crackle, a vowel). Each value is clipped to
  [-72, 0] dB and quantised into ``levels`` steps. e is a deterministic function of x, so
  -log p(e) - log p(x | e) is the length of a two-part code for x: an honest bits-per-sample figure,
  comparable with the unigram baseline.
- ``EnvelopePrior`` models p(e) autoregressively: a GRU over frames, reading the previous frame's levels and
  the trigger embedding. Within a frame the bands are drawn in order, each given the GRU state and the bands
  already drawn (p(e_k) = prod_b p(e_k,b | e_k,<b, e_<k)), so one frame's bands agree with each other.
  Generation steps it once per frame, so it needs no length in advance. Teacher-forced, the prior only ever
  reads real history, but generation feeds it its own draws, and a frame it gets wrong (a band filled that the
  trigger leaves empty) is history it has never seen: the errors compound. With ``sampled`` (a model's
  ``envelope_sampled``) training mixes its own draws into the history (parallel scheduled sampling,
  Duckworth et al. 2019), so it learns to go on from its own mistakes.
- The sample model reads ``level_value(e_k)`` (one value per band) as a local conditioning input for every
  sample of frame k; or, with ``loudness`` levels (``envelope_loudness``), one value: the frame's broadband
  loudness computed from its bands (``broadband``), in training and in generation alike.
- With more than one band, generation ends with a band post-filter (``enforce_bands``): each band of each
  frame of the generated audio is attenuated to the level the prior drew for it, never boosted. The sample
  model's sampling noise spreads over the whole spectrum (a small model's one-step error is broadband); the
  prior says where the trigger has no energy, and the filter takes the noise out there, as a speech codec's
  adaptive post-filter takes quantisation noise out of the spectral valleys (Chen & Gersho 1995).
  Held-out NLL scores the model before the filter.
- A conditioned prior's draws may be steered towards its trigger at generation (``asmr_zoo.guidance``, a model's
  ``envelope_guidance``); teacher-forced scores and training never see it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from asmr_zoo.guidance import TriggerGuidance

FLOOR_DB = -72.0
FRAMES_PER_SECOND = 100
EMBEDDING = 16  # the width of one band's level embedding
# parallel scheduled sampling: passes of drawing, each from the logits given the previous pass's mixed history,
# so a mixed-in draw may itself follow earlier draws (one pass: only one-frame-deep mistakes)
SAMPLED_PASSES = 2


def frame_hop(sample_rate: int) -> int:
    """Samples per envelope frame (10 ms)."""
    return max(1, sample_rate // FRAMES_PER_SECOND)


def band_edges(hop: int, bands: int) -> list[int]:
    """FFT-bin edges (``bands + 1``, for a ``2 * hop``-point FFT) of ``bands`` mel-spaced bands up to Nyquist."""
    bins = hop + 1
    top = 2595 * torch.log10(torch.tensor(1 + 0.5 * FRAMES_PER_SECOND * hop / 700))  # mel of Nyquist
    mels = torch.linspace(0, float(top), bands + 1)
    hz = 700 * (10 ** (mels / 2595) - 1)
    edges = (hz / (0.5 * FRAMES_PER_SECOND * hop) * (bins - 1)).round().long().tolist()
    for b in range(1, bands + 1):  # at least one bin per band
        edges[b] = max(edges[b], edges[b - 1] + 1)
    edges[-1] = bins
    return edges


def _quantise(db: torch.Tensor, levels: int) -> torch.Tensor:
    step = -FLOOR_DB / levels
    return ((db - FLOOR_DB) / step).floor().clamp(0, levels - 1).long()


def frame_levels(wav: torch.Tensor, hop: int, levels: int, bands: int = 1) -> torch.Tensor:
    """Quantised loudness ``(B, ceil(T / hop), bands)`` (long, 0 .. levels - 1) of audio ``(B, T)`` in [-1, 1]."""
    batch, length = wav.shape
    frames = -(-length // hop)
    if bands == 1:
        padded = torch.nn.functional.pad(wav.float(), (0, frames * hop - length))
        power = padded.view(batch, frames, hop).square().sum(-1)
        counts = torch.full((frames,), float(hop), device=wav.device)
        counts[-1] = length - (frames - 1) * hop  # the last frame may be partial
        return _quantise(10 * torch.log10(power / counts + 1e-12), levels)[..., None]
    # frame k's window: samples k * hop - hop / 2 .. k * hop + 3 hop / 2 (zeros outside the clip)
    _, band_power = _band_spectra(wav, hop, bands, hop // 2, frames)
    return _quantise(10 * torch.log10(band_power + 1e-12), levels)


def _band_spectra(wav: torch.Tensor, hop: int, bands: int, lead: int, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The spectra ``(B, frames, hop + 1)`` of ``frames`` Hann windows of ``2 * hop`` every ``hop`` samples of
    ``wav`` ``(B, T)``, the first starting ``lead`` samples before it (zeros outside the clip), and each
    window's power in ``bands`` bands ``(B, frames, bands)``: one-sided, scaled so that a window's bands sum to
    its windowed mean square (Parseval)."""
    padded = torch.nn.functional.pad(wav.float(), (lead, (frames + 1) * hop - lead - wav.shape[1]))
    window = torch.hann_window(2 * hop, periodic=True, device=wav.device)
    spectrum = torch.fft.rfft(padded.unfold(1, 2 * hop, hop)[:, :frames] * window, dim=-1)
    power = spectrum.abs().square() * (2.0 / (2 * hop * window.square().sum()))
    edges = band_edges(hop, bands)
    return spectrum, torch.stack([power[..., lo:hi].sum(-1) for lo, hi in itertools.pairwise(edges)], -1)


def check_config(
    levels: int,
    bands: int,
    loudness: int,
    sample_window: int,
    sample_batch: int = 0,
    sampled: float = 0.0,
    guidance: float = 0.0,
    conditioned: bool = False,
) -> None:
    """Refuse envelope settings (a model config's ``envelope_*``, ``sample_window`` and ``sample_batch``) that
    make no model."""
    from asmr_zoo.errors import UsageError

    if guidance and not (levels and conditioned):
        raise UsageError(
            f"envelope_guidance {guidance} steers a conditioned model's envelope prior towards its trigger; this "
            "model has no such prior: set it to 0"
        )

    if not 0.0 <= sampled < 1.0:  # also refuses NaN
        raise UsageError(
            f"envelope_sampled (the share of the prior's training history that is its own draws) must be in "
            f"[0, 1), got {sampled}"
        )
    if min(levels, sample_window, loudness, sample_batch) < 0:
        raise UsageError(
            "envelope_levels, envelope_loudness, sample_window and sample_batch must be >= 0 (0 turns them off)"
        )
    if bands < 1:
        raise UsageError(f"envelope_bands must be >= 1, got {bands}")
    if loudness and (bands == 1 or not levels):
        raise UsageError(
            "envelope_loudness (the sample model reads the bands' broadband loudness) needs envelope_levels > 0 "
            f"and envelope_bands > 1, got {levels} levels and {bands} band(s)"
        )


def local_channels(levels: int, bands: int, loudness: int) -> int:
    """How many local conditioning values the sample model reads per sample (0: no envelope)."""
    return 0 if not levels else 1 if loudness else bands


def level_value(levels: torch.Tensor, count: int) -> torch.Tensor:
    """The sample model's local input for quantised levels: the bin centre scaled to [-1, 1]."""
    return (levels.float() + 0.5) * (2.0 / count) - 1.0


def level_power(levels: torch.Tensor, count: int) -> torch.Tensor:
    """The power (linear, 1 = 0 dBFS) at the centre of each level's bin; the floor level (0) is no power."""
    step = -FLOOR_DB / count
    return 10 ** ((FLOOR_DB + (levels.float() + 0.5) * step) / 10) * (levels > 0)


def broadband(levels: torch.Tensor, count: int, loudness: int) -> torch.Tensor:
    """A frame's broadband loudness level (0 .. loudness - 1) from its band levels ``(..., bands)``: the bands'
    powers summed (they sum to the frame's windowed mean square, see ``frame_levels``) -> ``(...)``."""
    return _quantise(10 * torch.log10(level_power(levels, count).sum(-1) + 1e-12), loudness)


def local_values(levels: torch.Tensor, count: int, loudness: int = 0) -> torch.Tensor:
    """The sample model's local input of band levels ``(..., bands)``: one value per band, or with
    ``loudness`` levels one value, the broadband loudness -> ``(..., 1)``."""
    if loudness:
        return level_value(broadband(levels, count, loudness), loudness)[..., None]
    return level_value(levels, count)


def local_inputs(levels: torch.Tensor, count: int, hop: int, length: int, loudness: int = 0) -> torch.Tensor:
    """Per-sample local conditioning ``(B, length, channels)``: frame k's ``local_values`` for its ``hop``
    samples."""
    return local_values(levels, count, loudness).repeat_interleave(hop, dim=1)[:, :length]


def enforce_bands(wav: torch.Tensor, track: torch.Tensor, count: int, hop: int) -> torch.Tensor:
    """The band post-filter: audio ``(B, T)`` with each band of each frame attenuated to at most the top of the
    bin of its level in ``track`` ``(B, frames, bands)`` (the frames and bands of ``frame_levels``); bands
    already at or under their level pass unchanged. Frames are Hann windows of ``2 * hop`` at hop ``hop``
    (they sum to one), filtered in the FFT domain and overlap-added."""
    batch, length = wav.shape
    frames, bands = -(-length // hop), track.shape[-1]
    if track.shape[1] < frames:  # a loop that stopped mid-frame: the last drawn frame holds
        track = torch.cat([track, track[:, -1:].expand(-1, frames - track.shape[1], -1)], dim=1)
    # the frames of frame_levels, and one more either side (filtered as their neighbour), so that two
    # windows cover every sample and sum to one there
    track = torch.cat([track[:, :1], track[:, :frames], track[:, frames - 1 : frames]], dim=1)
    offset = hop // 2 + hop  # sample 0's place in the padded audio
    spectrum, band_power = _band_spectra(wav, hop, bands, offset, frames + 2)
    ceiling = 10 ** ((FLOOR_DB + (track.float() + 1) * (-FLOOR_DB / count)) / 10)
    gain = (ceiling / (band_power + 1e-20)).clamp(max=1.0).sqrt()  # amplitude gain per (frame, band)
    widths = torch.tensor([hi - lo for lo, hi in itertools.pairwise(band_edges(hop, bands))], device=wav.device)
    filtered = torch.fft.irfft(spectrum * gain.repeat_interleave(widths, dim=-1), n=2 * hop, dim=-1)
    out = torch.nn.functional.fold(
        filtered.transpose(1, 2), (1, (frames + 3) * hop), kernel_size=(1, 2 * hop), stride=(1, hop)
    ).view(batch, -1)
    return out[:, offset : offset + length].to(wav.dtype)


def crop_offset(codes: torch.Tensor, crop: int) -> int:
    """Where a training crop of ``crop`` samples starts in ``codes (B, T, ...)``: a position that depends only
    on the data (so a resumed or repeated step crops the same), anywhere the crop fits."""
    return int(codes[:, :64].sum()) % (codes.shape[1] - crop + 1)


class EnvelopeLogits(NamedTuple):
    """An envelope model's teacher-forced output: sample logits and the prior's frame logits."""

    samples: torch.Tensor  # (B, T', heads, classes) for codes[:, offset : offset + T']
    frames: torch.Tensor  # (B, F, bands, levels)
    levels: torch.Tensor  # (B, F, bands): the window's loudness levels (the prior's targets)
    offset: int

    def frame_nats(self) -> torch.Tensor:
        """-log p(e) of the window's levels under the prior, in nats (summed over frames and bands)."""
        return nn.functional.cross_entropy(self.frames.flatten(0, -2), self.levels.reshape(-1), reduction="sum")


@dataclass
class EnvelopeState:
    """The prior during generation: the last drawn levels, its GRU state, and the samples made so far."""

    previous: torch.Tensor  # (B, 1, bands) long: the last drawn levels (the start tokens before frame 0)
    gru: torch.Tensor  # (1, B, hidden)
    h: torch.Tensor | None  # the trigger conditioning the prior reads
    t: int = 0  # samples generated so far; new levels are drawn every ``hop`` samples
    track: list[torch.Tensor] = field(default_factory=list)  # the levels drawn so far, (B, bands) per frame
    guidance: TriggerGuidance | None = None  # steers the draws towards the trigger (``envelope_guidance``)


class EnvelopePrior(nn.Module):
    """p(e_k | e_{<k}, trigger): a GRU over frames; per band, a softmax over ``levels`` given the GRU state
    and (with more than one band) the frame's bands before it."""

    def __init__(self, levels: int, hidden: int, cond_channels: int, bands: int = 1) -> None:
        super().__init__()
        self.levels, self.bands = levels, bands
        # per band: ``levels`` levels and a start token (index ``levels``) before frame 0
        self.embed = nn.Embedding(bands * (levels + 1), EMBEDDING)
        self.gru = nn.GRU(bands * EMBEDDING + cond_channels, hidden, batch_first=True)
        self.out = nn.Linear(hidden, bands * levels)
        # band b's logits also read the embeddings of bands 0 .. b - 1 of the same frame (a masked linear map)
        self.within = nn.Linear(bands * EMBEDDING, bands * levels, bias=False) if bands > 1 else None
        if self.within is not None:
            mask = torch.zeros(bands, levels, bands, EMBEDDING)
            for b in range(bands):
                mask[b, :, :b] = 1
            self.register_buffer("mask", mask.view(bands * levels, bands * EMBEDDING), persistent=False)

    def _embed(self, levels: torch.Tensor) -> torch.Tensor:
        """Levels ``(B, F, bands)`` -> their embeddings ``(B, F, bands * EMBEDDING)``."""
        offsets = torch.arange(self.bands, device=levels.device) * (self.levels + 1)
        return self.embed(levels + offsets).flatten(-2)

    def _inputs(self, previous: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        x = self._embed(previous)
        if h is not None:
            x = torch.cat([x, h[:, None].expand(-1, x.shape[1], -1)], dim=-1)
        return x

    def _within(self, current: torch.Tensor) -> torch.Tensor:
        """The masked contribution of a frame's own earlier bands: ``(..., bands * levels)``."""
        return nn.functional.linear(current, self.within.weight * self.mask)

    def forward(self, levels: torch.Tensor, h: torch.Tensor | None, sampled: float = 0.0) -> torch.Tensor:
        """Teacher-forced logits ``(B, F, bands, levels)``: logits[:, k, b] predicts levels[:, k, b] from
        levels[:, :k] and levels[:, k, :b]. With ``sampled`` > 0, each earlier frame of that history is, with
        this probability, the prior's own draw (``SAMPLED_PASSES`` of parallel scheduled sampling); the
        targets, and a frame's own earlier bands, stay the real ones."""
        history = levels
        for _ in range(SAMPLED_PASSES if sampled else 0):
            with torch.no_grad():
                drawn = torch.distributions.Categorical(logits=self._logits(history, levels, h)).sample()
            own = torch.rand((*levels.shape[:2], 1), device=levels.device) < sampled  # whole frames, every band
            history = torch.where(own, drawn, levels)
        return self._logits(history, levels, h)

    def _logits(self, history: torch.Tensor, current: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        """Logits of frames ``current`` given the frames before them in ``history`` (both ``(B, F, bands)``)."""
        start = torch.full_like(history[:, :1], self.levels)
        states, _ = self.gru(self._inputs(torch.cat([start, history[:, :-1]], dim=1), h))
        logits = self.out(states)
        if self.within is not None:
            logits = logits + self._within(self._embed(current))
        return logits.unflatten(-1, (self.bands, self.levels))

    def fold(self, state: dict[str, torch.Tensor], prefix: str, h: torch.Tensor) -> None:
        """Fold a constant conditioning vector ``h`` ``(cond_channels,)`` into the GRU's input bias of the weights
        ``state`` (this prior's under ``prefix``), dropping the columns that read it: the prior of an
        unconditioned model that draws what this one draws for ``h``."""
        weight, width = state[f"{prefix}gru.weight_ih_l0"], self.gru.input_size - self.bands * EMBEDDING
        state[f"{prefix}gru.bias_ih_l0"] = state[f"{prefix}gru.bias_ih_l0"] + weight[:, -width:] @ h
        state[f"{prefix}gru.weight_ih_l0"] = weight[:, :-width].clone()

    def start(self, batch: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generation state: (previous levels = the start tokens ``(B, 1, bands)``, GRU state ``(1, B, hidden)``)."""
        previous = torch.full((batch, 1, self.bands), self.levels, dtype=torch.long, device=device)
        return previous, torch.zeros(1, batch, self.gru.hidden_size, device=device)

    def step(
        self,
        previous: torch.Tensor,
        state: torch.Tensor,
        h: torch.Tensor | None,
        pick: Callable[[torch.Tensor], torch.Tensor],
        guidance: TriggerGuidance | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame: draw its levels ``(B, 1, bands)`` band by band with ``pick(logits (B, levels)) -> (B,)``,
        steered by ``guidance`` if given (``asmr_zoo.guidance``); return them and the new GRU state."""
        out, state = self.gru(self._inputs(previous, h), state)
        base = self.out(out[:, -1]).view(-1, self.bands, self.levels)
        rivals = None if guidance is None else self._rival_logits(previous, guidance)
        drawn = torch.zeros_like(previous)
        for b in range(self.bands):
            logits, other = base[:, b], None if rivals is None else rivals[:, :, b]
            if self.within is not None and b > 0:  # the same earlier bands, whichever trigger reads them
                rows = slice(b * self.levels, (b + 1) * self.levels)
                within = nn.functional.linear(self._embed(drawn)[:, 0], self.within.weight[rows] * self.mask[rows])
                logits = logits + within
                other = None if other is None else other + within[:, None]
            if other is not None:
                logits = guidance.steer(logits, other)
            drawn[:, 0, b] = pick(logits)
            if guidance is not None:
                guidance.observe(drawn[:, 0, b])
        if guidance is not None:
            guidance.end_frame()
        return drawn, state

    def _rival_logits(self, previous: torch.Tensor, guidance: TriggerGuidance) -> torch.Tensor:
        """Step every rival's GRU on the drawn ``previous`` ``(B, 1, bands)``: the frame's logits before the
        within-frame terms ``(B, C, bands, levels)``."""
        batch, count = previous.shape[0], guidance.rivals.shape[0]
        x = self._inputs(previous.repeat_interleave(count, 0), guidance.rivals.repeat(batch, 1))
        out, guidance.gru = self.gru(x, guidance.gru)
        return self.out(out[:, -1]).view(batch, count, self.bands, self.levels)


def prior_loss(
    prior: EnvelopePrior, wav: torch.Tensor, hop: int, h: torch.Tensor | None, sampled: float
) -> torch.Tensor:
    """-log p(e) of the loudness of audio windows ``(B, T)`` in nats per sample: the prior's part of an envelope
    model's loss, alone (``train.parts=prior``)."""
    levels = frame_levels(wav, hop, prior.levels, prior.bands)
    logits = prior(levels, h, sampled)
    return nn.functional.cross_entropy(logits.flatten(0, -2), levels.reshape(-1), reduction="sum") / wav.numel()


def next_frame(prior: EnvelopePrior, env: EnvelopeState, pick: Callable, loudness: int = 0) -> torch.Tensor:
    """Draw the next frame's levels with ``pick(logits (B, levels)) -> (B,)`` and record them; return the
    sample model's local input for the frame ``(B, channels)`` (``local_values``)."""
    env.previous, env.gru = prior.step(env.previous, env.gru, env.h, pick, env.guidance)
    env.track.append(env.previous[:, 0])
    return local_values(env.previous[:, 0], prior.levels, loudness)


def finish(wav: torch.Tensor, env: EnvelopeState | None, prior: EnvelopePrior | None, hop: int) -> torch.Tensor:
    """Generated audio ``(B, T)``, band post-filtered where the prior drew more than one band."""
    if env is None or prior is None or prior.bands == 1 or not env.track:
        return wav
    return enforce_bands(wav, torch.stack(env.track, 1), prior.levels, hop)
