"""A small conditional discriminator over normalised log-mels: is this a sung mel, or the student's?

Used only in training (core/train/adversarial.py). It sees the mel with the
frame's pitch (log2 F0 relative to A4, and a voiced flag), because whether a
harmonic pattern is right depends on the F0 it should follow, and the singer
through a projection term (Miyato & Koyama 2018), because a mel can be a fine
mel of the wrong voice. It answers per frame, so padded frames can be masked.

    disc = MelDiscriminator(n_mels, n_singers)
    scores = disc(mel, f0_hz, singer)      # (B, n_mels, T), (B, T), (B,) -> (B, T)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

DISCRIMINATOR_CHANNELS = 128
DISCRIMINATOR_DILATIONS = (1, 2, 4, 8)  # kernel 5: receptive field 69 frames (0.4 s), a few syllables
LEAKY_SLOPE = 0.2


def pitch_channels(f0: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) Hz -> (B, 2, T): log2(F0 / 440) where voiced (0 elsewhere), and the voiced flag."""
    voiced = f0 > 0
    octaves = torch.where(voiced, torch.log2(f0.clamp(min=1.0) / 440.0), torch.zeros_like(f0))
    return torch.stack([octaves, voiced.to(f0.dtype)], 1).to(dtype)


class MelDiscriminator(nn.Module):
    def __init__(self, n_mels: int, n_singers: int, channels: int = DISCRIMINATOR_CHANNELS) -> None:
        super().__init__()
        self.input = nn.Conv1d(n_mels + 2, channels, 5, padding=2)
        self.body = nn.ModuleList(nn.Conv1d(channels, channels, 5, padding=2 * d, dilation=d)
                                  for d in DISCRIMINATOR_DILATIONS)
        self.output = nn.Conv1d(channels, 1, 3, padding=1)
        self.singer_projection = nn.Embedding(n_singers, channels)
        nn.init.zeros_(self.singer_projection.weight)  # starts unconditional; learns the singers as it trains

    def forward(self, mel: torch.Tensor, f0: torch.Tensor, singer: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.input(torch.cat([mel, pitch_channels(f0, mel.dtype)], 1)), LEAKY_SLOPE)
        for conv in self.body:
            h = h + F.leaky_relu(conv(h), LEAKY_SLOPE)
        projection = (self.singer_projection(singer)[:, :, None] * h).sum(1) / math.sqrt(h.shape[1])
        return self.output(h)[:, 0] + projection
