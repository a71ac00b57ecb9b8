"""Small streaming statistics: a fixed-size history of per-block values."""

from __future__ import annotations

import numpy as np


class History:
    """The last `size` values, oldest first, in a preallocated array."""

    def __init__(self, size: int) -> None:
        self._buf = np.zeros(size, dtype=np.float64)
        self._count = 0

    def push(self, value: float) -> None:
        self._buf[self._count % len(self._buf)] = value
        self._count += 1

    def values(self) -> np.ndarray:
        n = min(self._count, len(self._buf))
        start = self._count % len(self._buf) if self._count > len(self._buf) else 0
        return np.roll(self._buf, -start)[:n] if n == len(self._buf) else self._buf[:n].copy()

    def percentile(self, q: float) -> float:
        v = self.values()
        return float(np.percentile(v, q)) if len(v) else 0.0


class Scope:
    """The last `size` samples of a signal, for the GUI's scope and F0 plots."""

    def __init__(self, size: int) -> None:
        self._buf = np.zeros(size, dtype=np.float32)

    def push(self, data: np.ndarray) -> None:
        n = min(len(data), len(self._buf))
        if n == 0:
            return
        self._buf[:-n] = self._buf[n:]
        self._buf[-n:] = data[-n:]

    def copy(self) -> np.ndarray:
        return self._buf.copy()
