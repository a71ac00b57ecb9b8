"""Silence in, silence out: mute a converter's output where its (aligned) input is silent.

A voice model given digital silence still renders something: the default model's
one-step student turns a window of zeros into a low, breathy murmur (about
-39 dBFS around 200 Hz), which the vocoder faithfully plays. Whenever the gate is
closed the converter sees exactly that. The follower watches the converter's input
and multiplies its output, `latency` samples later, by a gain that is exactly 0
while the aligned input has been silent for `hold`, and exactly 1 while it is not.

It sees `latency` samples into the output's future, so a fade-in starts before the
input's onset reaches the output and is complete when it does (no click, no lost
attack); a fade-out starts `hold` after the input fell silent (the model's tail
rings out). The fades are raised-cosine. Plain object, no device.

`mute_where_silent` applies the same rule to a whole file (offline conversion), so a
file converted offline is silent exactly where the live engine would be.
"""

from __future__ import annotations

import numpy as np

from core.audio.peak import SILENCE_PEAK

FADE_IN_MS = 5.0    # the gain is fully open when the onset reaches the output
# then to exact zero. Slow, as a tail decays: cut in 20 ms, the model's noise floor stopping at each
# pause scored lower in DNSMOS than no muting at all (BENCHMARKS.md, session 41).
FADE_OUT_MS = 150.0
HOLD_MS = 50.0      # after the last audible input sample: the model's output decays


class SilenceFollower:
    def __init__(self, sample_rate: int, latency: int, fade_in_ms: float = FADE_IN_MS,
                 fade_out_ms: float = FADE_OUT_MS, hold_ms: float = HOLD_MS) -> None:
        self.latency = max(int(latency), 0)
        self.fade_in = max(int(fade_in_ms * sample_rate / 1000), 1)
        self.fade_out = max(int(fade_out_ms * sample_rate / 1000), 1)
        self.hold = int(hold_ms * sample_rate / 1000)
        self.ahead = min(self.fade_in, self.latency)  # how far past the aligned input we look
        self.reset()

    def reset(self) -> None:
        """As after a long silence: closed, nothing heard."""
        # Input flags not yet scanned; the scan runs `ahead` samples in front of the output's input.
        self._pending = np.zeros(self.latency - self.ahead, dtype=bool)
        self._scanned = 0           # input samples scanned so far
        self._last_active = -(1 << 62)
        self._state = 0.0           # fade position: 0 closed .. 1 open

    def process(self, new_input: np.ndarray, output: np.ndarray) -> None:
        """Mute `output` (in place) where the input it came from was silent; `new_input` is the
        block the converter just received (same length)."""
        n = len(output)
        flags = np.concatenate([self._pending, np.abs(new_input) > SILENCE_PEAK])
        scan, self._pending = flags[:n], flags[n:]
        index = np.arange(self._scanned, self._scanned + n)
        self._scanned += n
        last = np.maximum.accumulate(np.where(scan, index, self._last_active))
        self._last_active = int(last[-1]) if n else self._last_active
        # output sample k is open if some input within [k - hold, k + ahead] (aligned) was audible
        target = last >= index - self.ahead - self.hold
        if self._state == 1.0 and target.all():
            return
        if self._state == 0.0 and not target.any():
            output[:] = 0.0
            return
        output *= self._ramp(target)

    def _ramp(self, target: np.ndarray) -> np.ndarray:
        """Per-sample gain: a linear fade position per run of equal target, raised-cosine shaped."""
        n = len(target)
        state = np.empty(n, dtype=np.float64)
        edges = np.flatnonzero(np.diff(target.astype(np.int8))) + 1
        start, s = 0, self._state
        for stop in [*edges.tolist(), n]:
            steps = np.arange(1, stop - start + 1, dtype=np.float64)
            if target[start]:
                run = np.minimum(s + steps / self.fade_in, 1.0)
            else:
                run = np.maximum(s - steps / self.fade_out, 0.0)
            state[start:stop] = run
            s = float(run[-1])
            start = stop
        self._state = s
        return (0.5 - 0.5 * np.cos(np.pi * state)).astype(np.float32)


def follow_whole_file(follower, source: np.ndarray, output: np.ndarray, lead: int) -> np.ndarray:
    """Run a live output follower (built with `latency=lead`) over a whole file, `output` aligned sample
    for sample with `source`. Offline there is no delay to look ahead into, so the output is delayed by
    `lead` here and the follower sees the input that much early, as it does live."""
    delayed = np.concatenate([np.zeros(lead, np.float32), np.asarray(output, np.float32)])
    follower.process(np.concatenate([np.asarray(source, np.float32), np.zeros(lead, np.float32)]), delayed)
    return delayed[lead:]


def mute_where_silent(source: np.ndarray, output: np.ndarray, sample_rate: int) -> np.ndarray:
    """`output` (aligned sample for sample with `source`, same rate) muted as the live engine mutes it:
    looking one fade-in ahead, so the fade is complete when the onset arrives."""
    lead = max(int(FADE_IN_MS * sample_rate / 1000), 1)
    return follow_whole_file(SilenceFollower(sample_rate, latency=lead), source, output, lead)
