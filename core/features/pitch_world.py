"""WORLD pitch (pyworld): DIO + StoneMask (the paper's default) and Harvest."""

from __future__ import annotations

import warnings

import numpy as np

from core.features.pitch_base import PitchExtractor

with warnings.catch_warnings():
    # pyworld imports pkg_resources, which warns on newer setuptools.
    warnings.simplefilter("ignore", UserWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyworld


class WorldPitch(PitchExtractor):
    """DIO refined by StoneMask, or Harvest, with frame period = hop."""

    revise_at_lookahead = True

    def __init__(self, method: str = "dio", **kwargs) -> None:
        super().__init__(**kwargs)
        if method not in ("dio", "harvest"):
            raise ValueError(f"unknown WORLD method {method!r}")
        self.name = method

    def _native(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # WORLD puts frame i at i * frame_period; starting the signal half a hop late
        # puts its frames exactly on the mel frame centres (t*hop + hop/2).
        offset = self.hop_length // 2
        x = np.ascontiguousarray(audio[offset:], dtype=np.float64)
        period_ms = 1000.0 * self.hop_length / self.sample_rate
        if self.name == "dio":
            f0, t = pyworld.dio(x, self.sample_rate, f0_floor=self.f0_floor, f0_ceil=self.f0_ceil,
                                frame_period=period_ms)
            f0 = pyworld.stonemask(x, f0, t, self.sample_rate)
        else:
            f0, t = pyworld.harvest(x, self.sample_rate, f0_floor=self.f0_floor, f0_ceil=self.f0_ceil,
                                    frame_period=period_ms)
        return t + offset / self.sample_rate, f0, f0 > 0
