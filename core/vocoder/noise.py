"""Noise as a pure function of the absolute sample index.

Streaming needs block-by-block noise to equal whole-utterance noise, and a
random generator drawn in pieces does not promise that. A counter-based hash
does: sample n is always the same value, however the signal is cut.
"""

from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF
_MULT = 0x45D9F3B  # a well-mixing 32-bit multiplier; products stay below 2**59 in int64


def hash_noise(index: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Uniform noise in [-1, 1) for int64 sample indices (any shape), float32."""
    x = (index.to(torch.int64) + int(seed) * 0x9E3779B1) & _MASK32
    for _ in range(2):
        x = (((x >> 16) ^ x) * _MULT) & _MASK32
    x = (x >> 16) ^ x
    return (x.to(torch.float64) * (2.0 / 2**32) - 1.0).to(torch.float32)
