"""Per-frame conditioning: content, f0, loudness, singer and key shift, projected and SUMMED.

All inputs are at the mel frame rate (sample_rate / hop frames per second):

    content   (B, T, content_dim)  content-encoder features
    f0        (B, T)  Hz, 0 where unvoiced     -> Linear(1, C) of ln(1 + f0 / 700)
    loudness  (B, T)  frame RMS                -> Linear(1, C)
    singer    (B,) int ids, or (B, n_singers) float mixing weights -> Embedding(n_singers, C)
    key_shift (B,) or (B, T) semitones         -> Linear(1, C, no bias) of shift / 5

The sum (not a concatenation, as in the paper) is a (B, C, T) tensor that every
WaveNet layer adds through its own 1x1 conv. Every projection is per frame, so
the condition of a frame depends on that frame's inputs only (no context).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

KEY_SHIFT_SCALE = 5.0  # the paper embeds shift / 5 (key shift range is +-5 semitones)
F0_MEL_BREAK_HZ = 700.0  # ln(1 + f0 / 700): the mel scale's log term


@dataclass(frozen=True)
class ConditionInputs:
    """The raw per-frame inputs of one batch; see the module docstring for shapes."""

    content: torch.Tensor
    f0: torch.Tensor
    loudness: torch.Tensor
    singer: torch.Tensor
    key_shift: torch.Tensor

    @classmethod
    def single(
        cls,
        content: torch.Tensor,
        f0: torch.Tensor,
        loudness: torch.Tensor,
        singer: int | torch.Tensor,
        key_shift: float | torch.Tensor = 0.0,
    ) -> "ConditionInputs":
        """A batch of one from unbatched (T, D), (T,), (T,) tensors, a singer id and a shift."""
        content, f0, loudness = (torch.as_tensor(t, dtype=torch.float32) for t in (content, f0, loudness))
        singer = torch.as_tensor(singer)
        singer = singer.long().reshape(1) if not singer.is_floating_point() else singer.float().reshape(1, -1)
        key_shift = torch.as_tensor(key_shift, dtype=torch.float32)
        key_shift = key_shift.reshape(1) if key_shift.ndim == 0 else key_shift.reshape(1, -1)
        return cls(content[None], f0[None], loudness[None], singer, key_shift)

    def rows(self, index: torch.Tensor) -> "ConditionInputs":
        """The batch items at `index` (every field's first dimension is the batch)."""
        return ConditionInputs(self.content[index], self.f0[index], self.loudness[index], self.singer[index],
                               self.key_shift[index])

    @property
    def frames(self) -> int:
        return int(self.f0.shape[-1])

    @property
    def batch_size(self) -> int:
        return int(self.f0.shape[0])

    def frame_slice(self, start: int, stop: int) -> "ConditionInputs":
        """The inputs of frames [start, stop); per-item values (singer, scalar shift) are kept."""
        key_shift = self.key_shift[:, start:stop] if self.key_shift.ndim == 2 else self.key_shift
        return replace(
            self,
            content=self.content[:, start:stop],
            f0=self.f0[:, start:stop],
            loudness=self.loudness[:, start:stop],
            key_shift=key_shift,
        )

    def to(self, device: torch.device | str) -> "ConditionInputs":
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def validate(self, content_dim: int, n_singers: int) -> None:
        """Shapes agree with each other and with the model; ValueError says which does not."""
        batch, frames = self.f0.shape[0], self.f0.shape[-1]
        expect = {
            "content": (batch, frames, content_dim),
            "f0": (batch, frames),
            "loudness": (batch, frames),
        }
        for name, shape in expect.items():
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(f"condition '{name}' has shape {tuple(getattr(self, name).shape)}, expected {shape}")
        if self.singer.is_floating_point():
            if tuple(self.singer.shape) != (batch, n_singers):
                raise ValueError(f"singer weights have shape {tuple(self.singer.shape)}, expected {(batch, n_singers)}")
        elif tuple(self.singer.shape) != (batch,):
            raise ValueError(f"singer ids have shape {tuple(self.singer.shape)}, expected {(batch,)}")
        elif len(self.singer) and (self.singer.min() < 0 or self.singer.max() >= n_singers):
            raise ValueError(f"singer id out of range 0..{n_singers - 1}")
        if tuple(self.key_shift.shape) not in ((batch,), (batch, frames)):
            raise ValueError(f"key_shift has shape {tuple(self.key_shift.shape)}, expected {(batch,)} or {(batch, frames)}")


class Conditioner(nn.Module):
    """ConditionInputs -> (B, channels, T), the sum of five projections."""

    def __init__(self, content_dim: int, n_singers: int, channels: int) -> None:
        super().__init__()
        self.content_dim = content_dim
        self.n_singers = n_singers
        self.content = nn.Linear(content_dim, channels)
        self.f0 = nn.Linear(1, channels)
        self.loudness = nn.Linear(1, channels)
        self.singer = nn.Embedding(n_singers, channels)
        self.key_shift = nn.Linear(1, channels, bias=False)

    def forward(self, inputs: ConditionInputs) -> torch.Tensor:
        inputs.validate(self.content_dim, self.n_singers)
        frames = inputs.frames
        # log(1 + x) rather than log1p: the published code's float ops, so imported official
        # models get bit-identical conditions (f0 >= 50 Hz needs no log1p accuracy).
        f0_feature = torch.log(1.0 + inputs.f0.clamp(min=0.0) / F0_MEL_BREAK_HZ)
        total = self.content(inputs.content)
        total = total + self.f0(f0_feature[..., None]) + self.loudness(inputs.loudness[..., None])
        total = total + self._singer(inputs.singer)[:, None, :]
        shift = inputs.key_shift if inputs.key_shift.ndim == 2 else inputs.key_shift[:, None].expand(-1, frames)
        total = total + self.key_shift((shift / KEY_SHIFT_SCALE)[..., None].to(total.dtype))
        return total.transpose(1, 2)

    def _singer(self, singer: torch.Tensor) -> torch.Tensor:
        if singer.is_floating_point():
            # Mixing weights: a blend of singer embeddings (smooth live singer changes).
            return singer.to(self.singer.weight.dtype) @ self.singer.weight
        return self.singer(singer)
