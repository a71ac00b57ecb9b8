"""A small singer classifier over normalised log-mels: whose timbre is this mel?

Used only in training (core/train/singer_loss.py): the student's one-step mel
for content sung by singer A but asked for singer B should be heard as B. The
classifier sees the mel only (no F0), and each clip's mean level is taken away
first, so that loudness does not tell singers apart; the range copies in the
cache (each clip re-sung up to 12 semitones away with its own envelope) teach it
that pitch does not either.

    classifier = SingerClassifier(n_mels, n_singers)
    logits = classifier(mel, mask)          # (B, n_mels, T), (B, T) -> (B, n_singers)
"""

from __future__ import annotations

import torch
from torch import nn

CLASSIFIER_CHANNELS = 128
CLASSIFIER_DILATIONS = (1, 2, 4, 8)  # receptive field 31 frames (0.17 s): a few phonemes


class SingerClassifier(nn.Module):
    def __init__(self, n_mels: int, n_singers: int, channels: int = CLASSIFIER_CHANNELS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_mels
        for dilation in CLASSIFIER_DILATIONS:
            layers += [nn.Conv1d(width, channels, 3, padding=dilation, dilation=dilation), nn.GELU()]
            width = channels
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, n_singers)

    def forward(self, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Clip logits: the frame features' mean over the valid frames, then a linear read-out."""
        weights = mask.to(mel.dtype)[:, None, :]
        frames = weights.sum(-1, keepdim=True).clamp(min=1.0)
        level = (mel * weights).sum((1, 2), keepdim=True) / (frames * mel.shape[1])
        features = self.body((mel - level) * weights)
        return self.head((features * weights).sum(-1) / frames[..., 0])
