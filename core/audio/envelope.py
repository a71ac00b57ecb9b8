"""The output's loudness follows the input's: duck what the model renders louder than it was sung.

The model is conditioned on the input's frame loudness, yet where the input is quiet but not
silent (a pause at -90 dBFS, a breath, the end of a consonant) it renders breathy noise 40-50 dB
louder than what it was given (BENCHMARKS.md, session 42). RVC meets the same problem by mixing the
input's RMS envelope into its output (`rms_mix_rate`); replacing the output's envelope outright
scored lower here than only taking away what is too loud, so this follower never boosts:

    gain = min(1, headroom * env_in / env_out)

`env_in` is the RMS of the converter's input aligned with the output (`latency` samples earlier) and
read LOOKAHEAD_MS early, so an onset the model sings a little ahead of its input (it sees the
lookahead) is not taken for noise; `env_out` is the output's. Both are one-pole mean squares over
ENVELOPE_MS, causal: a block needs nothing after it, and one call on a whole file equals any split
of it into blocks (offline equals live).
While both are at the same level the gain is 1; the headroom lets the model sing up to
HEADROOM_DB louder than its input before anything is taken away, so a singer who sings a little
louder than the performer keeps that. Plain object, no device.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

from core.audio.silence import follow_whole_file

ENVELOPE_MS = 20.0    # the level both sides are compared at: a syllable's onset, not a period
LOOKAHEAD_MS = 5.0    # the input's level is read this much early (at most the latency)
HEADROOM_DB = 3.0     # how much louder than its input the output may be before it is ducked (0, 3, 6
                      # dB tried, BENCHMARKS.md session 42: 0 and 3 scored alike, 6 lower)
FLOOR_POWER = 1e-12   # -120 dBFS: keeps the ratio finite where both sides are silent


class EnvelopeFollower:
    """`spread`: how many samples the output may sit either side of `latency` (the live SOLA search
    moves each block by up to that); the input's level is then the loudest within that distance."""

    def __init__(self, sample_rate: int, latency: int, envelope_ms: float = ENVELOPE_MS,
                 headroom_db: float = HEADROOM_DB, lookahead_ms: float = LOOKAHEAD_MS, spread: int = 0) -> None:
        self.latency = max(int(latency), 0)
        self.spread = max(int(spread), 0)
        self.ahead = min(int(lookahead_ms * sample_rate / 1000) + self.spread, self.latency)
        self.coeff = 1.0 - float(np.exp(-1000.0 / (envelope_ms * sample_rate)))
        self.headroom_power = 10.0 ** (headroom_db / 10.0)
        self.reset()

    def reset(self) -> None:
        """As after a long silence."""
        self._delay = np.zeros(self.latency - self.ahead, dtype=np.float32)  # input not yet compared
        self._state_in = np.zeros(1)
        self._state_out = np.zeros(1)
        self._recent_in = np.zeros(2 * self.spread)  # the input's last mean squares, for the spread's max

    def _mean_square(self, x: np.ndarray, last: np.ndarray) -> np.ndarray:
        """m[k] = m[k-1] + coeff * (x[k]^2 - m[k-1]), continuing from `last` (m before this block)."""
        # lfilter's state for this one-pole form is (1 - coeff) times the previous output.
        power, _ = lfilter([self.coeff], [1.0, self.coeff - 1.0], np.square(x, dtype=np.float64),
                           zi=last * (1.0 - self.coeff))
        return power

    def process(self, new_input: np.ndarray, output: np.ndarray) -> None:
        """Duck `output` (in place) where it is louder than the input it came from allows; `new_input`
        is the block the converter just received (same length)."""
        n = len(output)
        if n == 0:
            return
        joined = np.concatenate([self._delay, np.asarray(new_input, np.float32)])
        aligned, self._delay = joined[:n], joined[n:]
        power_in = self._mean_square(aligned, self._state_in)
        power_out = self._mean_square(output, self._state_out)
        self._state_in, self._state_out = power_in[-1:], power_out[-1:]
        if self.spread:
            # the loudest input level within the spread either side of this sample (read `spread` early,
            # so a causal max over twice the spread covers both sides)
            history = np.concatenate([self._recent_in, power_in])
            power_in = maximum_filter1d(history, 2 * self.spread + 1, origin=self.spread)[-n:]
            self._recent_in = history[-2 * self.spread:]
        ratio = self.headroom_power * (power_in + FLOOR_POWER) / (power_out + FLOOR_POWER)
        output *= np.sqrt(np.minimum(ratio, 1.0)).astype(np.float32)


def follow_input_envelope(source: np.ndarray, output: np.ndarray, sample_rate: int) -> np.ndarray:
    """`output` (aligned sample for sample with `source`, same rate) ducked as the live engine ducks it,
    reading the input LOOKAHEAD_MS early."""
    lead = int(LOOKAHEAD_MS * sample_rate / 1000)
    return follow_whole_file(EnvelopeFollower(sample_rate, latency=lead), source, output, lead)
