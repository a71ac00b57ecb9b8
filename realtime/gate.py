"""Noise gate with hysteresis, hold and a smooth gain ramp.

Decides per block from the block's own RMS, so the block that crosses the
threshold is already let through (the onset is kept). Opens at threshold,
closes only below threshold - hysteresis after `hold` has passed; the gain
moves towards its target with one-pole smoothing per sample, so there is no
click. Once closed and faded below SILENCE_PEAK the gain is exactly 0, so a closed
gate passes digital silence (a one-pole fade alone never gets there). Plain object,
no device.
"""

from __future__ import annotations

import numpy as np

from core.audio.peak import SILENCE_PEAK


def rms_db(block: np.ndarray) -> float:
    if len(block) == 0:
        return -120.0
    power = float(np.mean(np.square(block, dtype=np.float64)))
    return 10.0 * np.log10(power + 1e-12)


class NoiseGate:
    def __init__(self, sample_rate: int, threshold_db: float = -50.0, hysteresis_db: float = 6.0,
                 hold_ms: float = 150.0, attack_ms: float = 2.0, release_ms: float = 40.0) -> None:
        self.sample_rate = sample_rate
        self.threshold_db = float(threshold_db)
        self.hysteresis_db = float(hysteresis_db)
        self.hold_samples = int(hold_ms * sample_rate / 1000)
        self._attack = 1.0 - np.exp(-1.0 / max(attack_ms * sample_rate / 1000, 1.0))
        self._release = 1.0 - np.exp(-1.0 / max(release_ms * sample_rate / 1000, 1.0))
        self.reset()

    def reset(self) -> None:
        self.is_open = False
        self._gain = 0.0
        self._since_loud = self.hold_samples + 1

    def process(self, block: np.ndarray) -> None:
        """Gate `block` in place."""
        level = rms_db(block)
        if level >= self.threshold_db:
            self.is_open = True
            self._since_loud = 0
        else:
            self._since_loud += len(block)
            if self.is_open and level < self.threshold_db - self.hysteresis_db and self._since_loud > self.hold_samples:
                self.is_open = False
        target = 1.0 if self.is_open else 0.0
        coeff = self._attack if self.is_open else self._release
        # closed-form one-pole ramp: g[n] = target + (g0 - target) * (1 - c)^(n+1)
        decay = (1.0 - coeff) ** np.arange(1, len(block) + 1, dtype=np.float64)
        gains = target + (self._gain - target) * decay
        if not self.is_open:
            gains[gains < SILENCE_PEAK] = 0.0
        block *= gains.astype(np.float32)
        if len(block):
            self._gain = float(gains[-1])
