"""Block-wise use of a non-causal vocoder: left context, fixed lookahead, crossfade.

The wrapped vocoder needs `render(log_mel, f0, phase0, start_sample)`, which
synthesises a window given the source state at its first frame and the
absolute index of its first sample, so that overlapping windows agree
wherever both have enough context. Each block:

- the stream emits audio for frames up to `lookahead` frames before the newest
  one (so the output lags by `lookahead * hop` samples, the vocoder's
  `latency_samples`; the very first samples are silence);
- the window rendered starts `context` frames before the first frame emitted;
- the first `crossfade` frames of the emitted audio are crossfaded with what
  the previous window rendered for them (it saw them in its lookahead), which
  hides what little differs between windows.

The source state at each frame comes from the vocoder's `source_phases(f0,
state)` when it has one (NSF-HiFiGAN: the float32 state its own source
carries), else it is the fundamental's phase in cycles, the sum of
f0 * hop / sample_rate over earlier frames (f0 held per frame). Either way the
stream keeps it wrapped, so it stays small however long the stream runs.
"""

from __future__ import annotations

import torch

from core.vocoder.base import VocoderStream


class ContextStream(VocoderStream):
    def __init__(self, vocoder, context: int, lookahead: int, crossfade: int) -> None:
        if crossfade > lookahead:
            raise ValueError("crossfade frames must not exceed lookahead frames")
        self.vocoder = vocoder
        self.context, self.lookahead, self.crossfade = context, lookahead, crossfade
        self.reset()

    def reset(self) -> None:
        device = self.vocoder.device  # all kept history lives where the vocoder runs
        self.mel = torch.zeros(self.vocoder.n_mels, 0, device=device)
        self.f0 = torch.zeros(0, device=device)
        self.phase: torch.Tensor | None = None   # source state at the start of each kept frame
        self.first = 0           # absolute index of the first kept frame
        self.received = 0        # frames received so far
        self.emitted = -self.lookahead  # next frame to emit (negative: leading silence)
        self.next_phase: torch.Tensor | None = None   # state after the last frame received (None: none yet)
        self.tail: torch.Tensor | None = None

    def _append(self, log_mel: torch.Tensor, f0: torch.Tensor) -> None:
        starts, self.next_phase = self._source_phases(f0)
        self.mel = torch.cat([self.mel, log_mel], dim=1)
        self.f0 = torch.cat([self.f0, f0])
        self.phase = starts if self.phase is None else torch.cat([self.phase, starts])
        self.received += f0.shape[0]

    def _source_phases(self, f0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        own = getattr(self.vocoder, "source_phases", None)
        if own is not None:
            return own(f0, self.next_phase)
        before = 0.0 if self.next_phase is None else self.next_phase
        step = f0.to(torch.float64) * self.vocoder.hop_length / self.vocoder.sample_rate
        starts = before + torch.cumsum(step, 0) - step
        return torch.remainder(starts, 1.0), torch.remainder(before + step.sum(), 1.0)

    def process(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        log_mel, f0 = self.vocoder.check_inputs(log_mel, f0)
        hop = self.vocoder.hop_length
        self._append(log_mel, f0)
        target = self.received - self.lookahead
        pieces = []
        if self.emitted < 0:
            silent = min(0, target) - self.emitted
            pieces.append(log_mel.new_zeros(silent * hop))
        start = max(self.emitted, 0)
        if target > start:
            pieces.append(self._render(start, target))
        self.emitted = target
        keep_from = max(target - self.context, self.first)
        cut = keep_from - self.first
        self.mel, self.f0, self.phase = self.mel[:, cut:], self.f0[cut:], self.phase[cut:]
        self.first = keep_from
        return torch.cat(pieces) if pieces else log_mel.new_zeros(0)

    def _render(self, start: int, end: int) -> torch.Tensor:
        hop = self.vocoder.hop_length
        window = max(start - self.context, self.first)
        i = window - self.first
        audio = self.vocoder.render(self.mel[:, i:], self.f0[i:], self.phase[i], window * hop)
        out = audio[(start - window) * hop : (end - window) * hop].clone()
        if self.tail is not None:
            n = min(len(self.tail), len(out))
            fade = (torch.arange(n, dtype=out.dtype, device=out.device) + 0.5) / n
            out[:n] = self.tail[:n] * (1 - fade) + out[:n] * fade
        tail_end = min(end + self.crossfade, self.received)
        self.tail = audio[(end - window) * hop : (tail_end - window) * hop].clone() if self.crossfade else None
        return out
