"""The engine's output latency, adapted to the compute it measures while streaming.

The engine starts from a warm-up estimate (1.5 x compute + the preset's margin), which
a busy CPU at start-up can make far too large. From then on, each block reports its
slack: how long before the device needs the block's first sample it was ready (the
output ring's fill when in time, negative when late). The controller

- comes down when for WINDOW_S the smallest slack stayed more than HYSTERESIS_MS above
  the headroom it keeps (the preset's margin + half the recent compute p99, the same
  1.5 x compute + margin the start uses), to exactly that headroom; preferably while the
  output is silent (then nothing is heard), otherwise after QUIET_WAIT_S more;
- goes up only when it must: when LATE_BLOCKS blocks within LATE_WINDOW_S were late
  (a single stall or GC pause is one or two late blocks: dropped with a fade, as
  before, without touching the latency); by the worst lateness + the headroom.

It stays within [floor, ceiling]: compute never pays for a worker slower than the block
(that only queues; the engine drops instead). Positions are in device samples, times in
seconds of input. Plain object, no device.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

WINDOW_S = 4.0          # comfortably fast for this long before coming down
QUIET_WAIT_S = 4.0      # then wait at most this long for a silent moment to do it in
HYSTERESIS_MS = 2.0     # smaller improvements are not worth a change
LATE_BLOCKS = 3         # late blocks within LATE_WINDOW_S that raise the latency
LATE_WINDOW_S = 2.0


@dataclass(frozen=True)
class LatencyChange:
    at_s: float          # input time of the block that made it
    latency_ms: float    # the new latency
    reason: str          # "down" (comfortably fast) or "up" (blocks were late)


class LatencyController:
    def __init__(self, rate: int, initial: int, floor: int, ceiling: int, margin_s: float) -> None:
        self.rate = int(rate)
        self.floor, self.ceiling = int(floor), max(int(ceiling), int(floor))
        self.latency = min(max(int(initial), self.floor), self.ceiling)
        self.margin = margin_s * rate
        self.hysteresis = HYSTERESIS_MS * rate / 1000.0
        self._recent: deque[tuple[float, float, float]] = deque()  # (time, slack, compute samples)
        self._late: deque[tuple[float, float]] = deque()            # (time, slack)
        self._since: float | None = None  # start of the current observation window

    def headroom(self) -> float:
        """Slack kept beyond the worst block seen: the margin + half the compute p99 of the window."""
        compute = np.fromiter((c for _, _, c in self._recent), float, len(self._recent))
        return self.margin + 0.5 * (float(np.percentile(compute, 99)) if len(compute) else 0.0)

    def observe(self, at_s: float, slack: float, compute_s: float, silent: bool) -> int:
        """One block: its slack (device samples), compute time, and whether its output (and the
        previous block's) is silence. Returns the change to the latency (device samples), usually 0."""
        if self._since is None:
            self._since = at_s
        self._recent.append((at_s, slack, compute_s * self.rate))
        while self._recent and self._recent[0][0] < at_s - WINDOW_S:
            self._recent.popleft()
        if slack < 0:
            self._late.append((at_s, slack))
            while self._late[0][0] < at_s - LATE_WINDOW_S:
                self._late.popleft()
            if len(self._late) >= LATE_BLOCKS:
                worst = min(s for _, s in self._late)
                return self._change(at_s, -worst + self.headroom())
            return 0
        waited = at_s - self._since
        if waited < WINDOW_S or any(t >= at_s - WINDOW_S for t, _ in self._late):
            return 0
        excess = min(s for _, s, _ in self._recent) - self.headroom()
        if excess > self.hysteresis and (silent or waited >= WINDOW_S + QUIET_WAIT_S):
            return self._change(at_s, -excess)
        return 0

    def _change(self, at_s: float, delta: float) -> int:
        new = min(max(self.latency + int(round(delta)), self.floor), self.ceiling)
        change, self.latency = new - self.latency, new
        # the slack seen so far was measured against the old latency: start afresh
        self._recent.clear()
        self._late.clear()
        self._since = at_s
        return change
