"""Incremental (streaming) inference of the built-in content encoder.

The windowed way to get codes live is to re-encode the whole receptive field
(~160 frames) every block. This runs each layer only on the frames that are
new, carrying every layer's recent input from block to block, the way a
causal convolution is streamed:

- the mel frames of a block are computed from the block plus a 4-hop audio
  tail, so every one of them sees exactly the samples the whole-file front
  end would give it;
- each causal conv keeps its last `span - 1` input frames (zeros at the start,
  the same zeros the whole-sequence conv pads with);
- each moving-window instance norm keeps its last `norm_frames - 1` inputs.

Frames whose inputs are all in (the "final" codes) equal whole-sequence
`network(mel)` of everything pushed since `reset`. The newest few frames, which
would need audio or frames that have not arrived (2.5 hops of mel window,
`lookahead` frames of the input conv), are computed provisionally the way a
window ending at the newest sample computes them (mel reflect-padded at the
end, zeros past the end), without touching the carried state.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.audio.mel import normalize
from core.dilated_conv import dilated_conv1d
from core.features.content_builtin import BuiltinContentEncoder, CausalConv, moving_instance_norm

MEL_TAIL_HOPS = 4  # audio kept before a block: a frame's mel window reaches 1.5 hops back (win 512, hop 128)
MEL_PENDING = 2  # newest mel frames whose window reaches past the newest sample


class _ConvState:
    """The last `span - 1` inputs of a causal conv; starts as its own left zero-padding."""

    def __init__(self, conv: CausalConv) -> None:
        self.conv = conv
        self.keep = conv.left + conv.lookahead
        self.initial = conv.left
        self.dilation = conv.dilation[0]

    def reset(self, channels: int) -> None:
        self.history = self.conv.weight.new_zeros(1, channels, self.initial)

    def run(self, x: torch.Tensor, commit: bool) -> torch.Tensor:
        joined = torch.cat([self.history, x], dim=-1)
        if commit:
            self.history = joined[..., max(joined.shape[-1] - self.keep, 0):]
        if joined.shape[-1] <= self.keep:
            return joined[..., :0]
        return dilated_conv1d(joined, self.conv.weight, self.conv.bias, self.dilation)


class _NormState:
    """The last `window - 1` inputs of a moving instance norm (nothing at the start)."""

    def __init__(self, window: int, device: torch.device) -> None:
        self.window, self.device = window, device

    def reset(self, channels: int) -> None:
        self.history = torch.zeros(1, channels, 0, device=self.device)

    def run(self, x: torch.Tensor, commit: bool) -> torch.Tensor:
        if x.shape[-1] == 0:
            return x
        joined = torch.cat([self.history, x], dim=-1)
        if commit:
            self.history = joined[..., max(joined.shape[-1] - (self.window - 1), 0):]
        return moving_instance_norm(joined, self.window, last=x.shape[-1])


class BuiltinContentStream:
    """Push 24 kHz audio blocks (multiples of hop); read codes of the newest frames."""

    def __init__(self, encoder: BuiltinContentEncoder, capacity_frames: int) -> None:
        self.encoder = encoder
        network = encoder.network
        self.network = network
        self.hop = encoder.audio_cfg.hop_length
        shape = network.shape
        self.device = network.input_conv.weight.device  # every carried buffer lives beside the weights
        self._norm_in = _NormState(shape.norm_frames, self.device)
        self._input = _ConvState(network.input_conv)
        self._blocks = [_ConvState(conv) for conv in network.blocks]
        self._norm_out = _NormState(shape.norm_frames, self.device)
        self._capacity = 0
        self.ensure_capacity(capacity_frames)
        self.reset()

    @property
    def lag(self) -> int:
        """Newest frames whose codes are provisional (not yet final)."""
        return MEL_PENDING + self.network.shape.lookahead

    def ensure_capacity(self, frames: int) -> None:
        """Keep codes of at least the newest `frames` frames (grows, keeping what is there)."""
        if frames <= self._capacity:
            return
        codes = torch.zeros(frames, self.network.shape.dim, device=self.device)
        if self._capacity:
            codes[-self._capacity:] = self._codes
        self._codes, self._capacity = codes, frames

    def reset(self) -> None:
        shape = self.network.shape
        self._norm_in.reset(shape.n_mels)
        self._input.reset(shape.n_mels)
        for state in self._blocks:
            state.reset(shape.channels)
        self._norm_out.reset(shape.channels)
        self._tail = torch.zeros(MEL_TAIL_HOPS * self.hop, device=self.device)
        self._codes.zero_()
        self._final = 0  # final codes made so far
        self._pending_mel = torch.zeros(shape.n_mels, 0, device=self.device)
        self._pushed = 0  # frames of audio pushed

    @torch.inference_mode()
    def push(self, audio: torch.Tensor) -> None:
        audio = torch.as_tensor(audio, dtype=torch.float32, device=self.device).reshape(-1)
        n = audio.numel() // self.hop
        if n * self.hop != audio.numel():
            raise ValueError(f"block of {audio.numel()} samples is not a multiple of hop {self.hop}")
        if n == 0:
            return
        joined = torch.cat([self._tail, audio])
        self._tail = joined[-MEL_TAIL_HOPS * self.hop:]
        mel = normalize(self.encoder.mel(joined), self.encoder.audio_cfg)  # (n_mels, n + 4)
        # Mel frame j here is stream frame j - 4 + (frames pushed before). Frames 0-1 reach before
        # the tail, 2 .. n+1 are exact, the last two are pending; at the very start the zero tail
        # stands for the silence before the first sample, and frames before 0 are skipped.
        first = max(2, MEL_TAIL_HOPS - self._pushed)
        pending = max(n + 2, MEL_TAIL_HOPS - self._pushed)
        exact = mel[:, first:pending]
        self._pending_mel = mel[:, pending:]
        self._pushed += n
        codes = self._layers(exact.unsqueeze(0), commit=True)
        self._store(codes)

    def _layers(self, mel: torch.Tensor, commit: bool, future_zeros: int = 0) -> torch.Tensor:
        """(1, n_mels, k) normalised mel -> (m, dim) codes of the frames it completes."""
        x = self._norm_in.run(mel, commit)
        if future_zeros:
            x = torch.cat([x, x.new_zeros(1, x.shape[1], future_zeros)], dim=-1)
        x = F.gelu(self._input.run(x, commit))
        if x.shape[-1] == 0:
            return x.new_zeros(0, self.network.shape.dim)
        for state, out in zip(self._blocks, self.network.block_out):
            gate, value = state.run(x, commit).chunk(2, dim=1)
            x = x + out(torch.sigmoid(gate) * torch.tanh(value))
        x = self._norm_out.run(x, commit)
        return self.network.bottleneck(x)[0].transpose(0, 1)

    def _store(self, codes: torch.Tensor) -> None:
        m = codes.shape[0]
        if m == 0:
            return
        if m >= self._capacity:
            self._codes.copy_(codes[-self._capacity:])
        else:
            self._codes[:-m] = self._codes[m:].clone()
            self._codes[-m:] = codes
        self._final += m

    @torch.inference_mode()
    def latest(self, frames: int) -> torch.Tensor:
        """Codes (frames, dim) of the newest `frames` frames: final ones, then provisional ones."""
        provisional = self._provisional()
        final_needed = frames - provisional.shape[0]
        if final_needed > self._capacity:
            raise ValueError(f"asked for {frames} frames; the stream keeps {self._capacity}")
        if final_needed <= 0:
            return provisional[-frames:].clone()
        return torch.cat([self._codes[-final_needed:], provisional])

    def _provisional(self) -> torch.Tensor:
        """Codes of frames past the final ones, computed without committing state."""
        saved = self._snapshot()
        try:
            codes = self._layers(self._pending_mel.unsqueeze(0), commit=False,
                                 future_zeros=self.network.shape.lookahead)
        finally:
            self._restore(saved)
        return codes[: self._pushed - self._final]

    def _snapshot(self) -> list[torch.Tensor]:
        return [s.history for s in (self._norm_in, self._input, *self._blocks, self._norm_out)]

    def _restore(self, saved: list[torch.Tensor]) -> None:
        for state, history in zip((self._norm_in, self._input, *self._blocks, self._norm_out), saved):
            state.history = history
