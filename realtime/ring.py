"""Single-producer single-consumer sample ring, safe for an audio callback.

Preallocated once; `write` and `read_into` only copy slices. Each side owns one
counter (total samples written / read) and only reads the other's, so no lock
is needed: in CPython an int assignment is atomic, and the data is copied
before the counter that publishes it is advanced.
"""

from __future__ import annotations

import numpy as np


class SampleRing:
    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self.written = 0  # owned by the producer
        self.read = 0     # owned by the consumer

    @property
    def fill(self) -> int:
        return self.written - self.read

    @property
    def space(self) -> int:
        return self.capacity - self.fill

    def write(self, data: np.ndarray) -> int:
        """Copy as much of `data` as fits; returns how many samples were written."""
        n = min(len(data), self.space)
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = data[:first]
        if n > first:
            self._buf[:n - first] = data[first:n]
        self.written += n
        return n

    def read_into(self, out: np.ndarray, n: int | None = None) -> int:
        """Copy up to len(out) (or n) samples into `out`; returns how many were copied."""
        n = min(len(out) if n is None else n, self.fill)
        start = self.read % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start:start + first]
        if n > first:
            out[first:n] = self._buf[:n - first]
        self.read += n
        return n

    def skip(self, n: int) -> int:
        """Consumer side: discard up to n of the oldest samples."""
        n = min(n, self.fill)
        self.read += n
        return n
