"""Streaming polyphase resampler with carried state.

A windowed-sinc low-pass designed once for the rational ratio up/down; each
block is filtered together with the tail of the previous input, so a signal
resampled block by block equals the same signal resampled in one go (exactly,
up to float rounding), with no edge effects at block boundaries.
"""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import firwin

KEEP_ROWS = 8192  # outputs whose gather arrays are kept (0.5 MB each a 40 ms block; 2 MB at most): a block
#                   after a stall can be seconds long, and its arrays are made for it alone, not kept


class StreamingResampler:
    def __init__(self, orig_sr: int, new_sr: int, taps_per_phase: int = 32) -> None:
        g = gcd(int(orig_sr), int(new_sr))
        self.orig_sr, self.new_sr = int(orig_sr), int(new_sr)
        self.up, self.down = self.new_sr // g, self.orig_sr // g
        self.identity = self.up == self.down
        n_taps = taps_per_phase * self.up
        cutoff = 0.95 / max(self.up, self.down)  # just below the lower Nyquist, as a fraction of the upsampled Nyquist
        h = firwin(n_taps, cutoff, window=("kaiser", 8.0)) * self.up
        # phase p holds taps h[p], h[p+up], ...: output at upsampled time t uses x[t//up - j] * h[t%up + j*up]
        self._phases = h.reshape(taps_per_phase, self.up).T.astype(np.float64).copy()
        self._taps = taps_per_phase
        self._tap_offsets = np.arange(taps_per_phase)[None, :]
        # Each output's taps and weights are gathered into these, kept from block to block: fresh arrays of
        # this size (0.5 MB each for a 40 ms block at 48 kHz) can come from new pages of memory, whose faults
        # cost 7 times the filtering for a 100 ms block (BENCHMARKS.md, "The output resampler's scratch").
        self._indices = np.empty((0, taps_per_phase), dtype=np.int64)
        self._samples, self._weights = np.empty((0, taps_per_phase)), np.empty((0, taps_per_phase))
        self.reset()

    @property
    def delay_out_samples(self) -> float:
        """Group delay of the filter in output samples (constant: linear phase)."""
        if self.identity:
            return 0.0
        return (self._taps * self.up - 1) / 2.0 / self.down

    def reset(self) -> None:
        self._history = np.zeros(self._taps - 1, dtype=np.float64)
        self._in_count = 0   # input samples consumed so far
        self._out_count = 0  # output samples produced so far

    def process(self, block: np.ndarray) -> np.ndarray:
        """Resample the next block; returns every output sample that block completes."""
        block = np.asarray(block, dtype=np.float32)
        if self.identity:
            return block.copy()
        x = np.concatenate([self._history, block.astype(np.float64)])
        total_in = self._in_count + len(block)
        # output n sits at upsampled time n*down; it is complete once its newest input index is known
        last_out = (total_in * self.up - 1) // self.down  # newest output whose base input exists
        n_new = last_out + 1 - self._out_count
        if n_new <= 0:
            self._advance(x, len(block))
            return np.zeros(0, dtype=np.float32)
        t = (self._out_count + np.arange(n_new)) * self.down
        base = t // self.up - (self._in_count - len(self._history))  # index into x
        phase = t % self.up
        idx, samples, weights = self._scratch(n_new)
        np.subtract(base[:, None], self._tap_offsets, out=idx)
        np.take(x, idx, out=samples, mode="clip")  # always in range; "clip" writes straight into `out`
        np.take(self._phases, phase, axis=0, out=weights, mode="clip")
        y = np.einsum("nj,nj->n", samples, weights)
        self._out_count += n_new
        self._advance(x, len(block))
        return y.astype(np.float32)

    def _scratch(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first `rows` rows of the kept arrays, grown (rarely: the engine's blocks keep one size) when short."""
        if rows > len(self._indices):
            shape = (rows, self._taps)
            arrays = np.empty(shape, dtype=np.int64), np.empty(shape), np.empty(shape)
            if rows > KEEP_ROWS:
                return arrays
            self._indices, self._samples, self._weights = arrays
        return self._indices[:rows], self._samples[:rows], self._weights[:rows]

    def _advance(self, x: np.ndarray, n_block: int) -> None:
        self._in_count += n_block
        self._history = x[len(x) - (self._taps - 1):].copy()
