"""Gaussian noise anchored to absolute frame indices.

The one-step student turns noise into a mel. For the live engine to regenerate
the same frames when overlapping windows are processed block after block, a
frame's noise must depend only on (seed, absolute frame index, draw) and never
on where the window starts or how long it is. Each frame therefore has its own
generator: a counter-based one (SplitMix64 of the key, then Box-Muller), which
is vectorised and gives bit-identical values on every platform and device.

`draw` separates independent draws for the same frame: 0 is the initial
latent, k >= 1 the k-th re-noising of a multi-step consistency sampler.
"""

from __future__ import annotations

import numpy as np
import torch

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 arrays (numpy arrays wrap on overflow, by design)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _as_u64(values: np.ndarray | int) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).view(np.uint64)


def anchored_noise_numpy(n_mels: int, frame_offset: int, n_frames: int, seed: int, draw: int = 0) -> np.ndarray:
    """Standard normal noise (n_mels, n_frames) float64 for frames [frame_offset, frame_offset + n_frames)."""
    frames = _as_u64(np.arange(frame_offset, frame_offset + n_frames, dtype=np.int64))
    with np.errstate(over="ignore"):
        stream = _splitmix64(_splitmix64(_as_u64(seed)) ^ _as_u64(draw))
        frame_key = _splitmix64(stream ^ _splitmix64(frames))  # (n_frames,)
        counters = np.arange(2 * n_mels, dtype=np.uint64)  # two uniforms per value
        bits = _splitmix64(frame_key[None, :] + counters[:, None] * _GOLDEN)
    uniform = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53  # strictly inside (0, 1)
    u1, u2 = uniform[:n_mels], uniform[n_mels:]
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def anchored_noise(
    n_mels: int,
    frame_offset: int,
    n_frames: int,
    seed: int,
    draw: int = 0,
    batch: int = 1,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(batch, n_mels, n_frames) anchored noise; every batch item gets the same frames' noise."""
    values = torch.from_numpy(anchored_noise_numpy(n_mels, frame_offset, n_frames, seed, draw))
    return values.to(device=device, dtype=dtype)[None].expand(batch, -1, -1).contiguous()
