"""SOLA: align each new converted chunk to the previous one, then crossfade.

Each chunk covers `search + block + crossfade` samples. The previous chunk's
unplayed tail (`crossfade` samples) is matched against the new chunk over
offsets 0..search by normalised cross-correlation; the best offset's overlap is
crossfaded and `block` samples are emitted. Plain object, no device.
"""

from __future__ import annotations

import numpy as np


def fade_curves(n: int, kind: str = "equal-power") -> tuple[np.ndarray, np.ndarray]:
    """(fade_in, fade_out) of length n. Equal-power suits uncorrelated signals, equal-gain correlated ones."""
    t = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
    if kind == "equal-gain":
        fade_in = 0.5 - 0.5 * np.cos(np.pi * t)
        return fade_in.astype(np.float32), (1.0 - fade_in).astype(np.float32)
    if kind == "equal-power":
        return np.sin(0.5 * np.pi * t).astype(np.float32), np.cos(0.5 * np.pi * t).astype(np.float32)
    raise ValueError(f"unknown fade kind {kind!r}")


class SolaCrossfader:
    def __init__(self, block: int, crossfade: int, search: int) -> None:
        self.block, self.crossfade, self.search = int(block), int(crossfade), int(search)
        # aligned chunks are near copies of each other: equal-gain keeps their level
        self._fade_in, self._fade_out = fade_curves(self.crossfade, "equal-gain")
        self.last_offset = 0
        self.reset()

    @property
    def chunk_length(self) -> int:
        return self.search + self.block + self.crossfade

    def reset(self) -> None:
        """Forget the previous tail: the next chunk fades in from silence."""
        self._tail: np.ndarray | None = None

    def process(self, chunk: np.ndarray) -> np.ndarray:
        if len(chunk) != self.chunk_length:
            raise ValueError(f"SOLA chunk must have {self.chunk_length} samples, got {len(chunk)}")
        if self._tail is None:
            offset = 0
            out = chunk[:self.block].copy()
            n = min(self.crossfade, self.block)
            out[:n] *= self._fade_in[:n] if n == self.crossfade else fade_curves(n, "equal-gain")[0]
        else:
            offset = self._best_offset(chunk)
            out = chunk[offset:offset + self.block].copy()
            xf = self.crossfade
            out[:xf] = out[:xf] * self._fade_in + self._tail * self._fade_out
        self.last_offset = offset
        self._tail = chunk[offset + self.block:offset + self.block + self.crossfade].copy()
        return out

    def continue_from(self, chunk: np.ndarray) -> None:
        """Take the tail from another chunk aligned like the last one (after a converter swap)."""
        start = self.last_offset + self.block
        self._tail = chunk[start:start + self.crossfade].copy()

    def _best_offset(self, chunk: np.ndarray) -> int:
        if self.search == 0 or self.crossfade == 0:
            return 0
        region = chunk[:self.search + self.crossfade].astype(np.float64)
        tail = self._tail.astype(np.float64)
        num = np.correlate(region, tail, mode="valid")  # search+1 offsets
        energy = np.convolve(region * region, np.ones(self.crossfade), mode="valid")
        score = num / np.sqrt(energy + 1e-8)
        return int(np.argmax(score))
