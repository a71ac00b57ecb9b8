"""A second output for the performer (in-ear or headphone monitor) with its own gain.

The worker hands the tap every block it schedules for the main output; the tap
scales it by the monitor gain and writes it into its own preallocated ring. The
monitor device's callback only copies out of that ring (zeros when it runs
short), exactly like the main output's.

The monitor runs on its own device clock. Two clocks drift apart by a few
samples a minute, so the worker keeps the ring no fuller than `max_fill`
samples: when a block would push it past that, the block's older part is left
out (the monitor jumps forward a little, once in a long while) rather than the
monitor's delay creeping up.
"""

from __future__ import annotations

import numpy as np

from realtime.ring import SampleRing


class MonitorTap:
    def __init__(self, sample_rate: int, gain_db: float = 0.0, max_delay_s: float = 0.25) -> None:
        self.ring = SampleRing(int(sample_rate * 2))
        self.max_fill = int(sample_rate * max_delay_s)
        self.gain_db = float(gain_db)
        self.jumps = 0       # worker side: times the ring was kept from growing past max_fill
        self.underflows = 0  # callback side: callbacks that ran short and played zeros
        self.failed: str | None = None  # why the monitor stopped, if it did

    def set_gain(self, db: float) -> None:
        self.gain_db = float(db)

    def feed(self, out: np.ndarray) -> None:
        """Worker side: queue a copy of a main-output block at the monitor gain."""
        room = self.max_fill - self.ring.fill
        if room <= 0:
            self.jumps += 1
            return
        if len(out) > room:
            self.jumps += 1
            out = out[len(out) - room:]
        self.ring.write(out * np.float32(10.0 ** (self.gain_db / 20.0)))

    def device_io(self, out: np.ndarray) -> None:
        """Callback side: fill `out` from the ring; only copies."""
        got = self.ring.read_into(out)
        if got < len(out):
            out[got:] = 0.0
            if self.ring.written:
                self.underflows += 1
