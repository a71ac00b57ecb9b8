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
  before, without touching the latency); by the worst lateness + the headroom;
- after going up again where it had come down, waits twice as long as last time before
  it may come down again (up to MAX_WINDOW_S). Each change is heard (a fade, a skip or a
  gap), and a machine that was busy at a singer's onsets, came down in the pauses and went
  up again at the next onset made one pair of changes per phrase; the compute p99 behind
  the headroom is taken over the same, longer window, so the busy moments are remembered
  through the pauses.

It stays within [floor, ceiling]: compute never pays for a worker slower than the block
(that only queues; the engine drops instead). Positions are in device samples, times in
seconds of input. Plain object, no device.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

WINDOW_S = 4.0          # comfortably fast for this long before coming down
MAX_WINDOW_S = 64.0     # the longest wait after repeated raises
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
        self._recent: deque[tuple[float, float]] = deque()          # (time, slack) since the last change
        self._compute: deque[tuple[float, float]] = deque()         # (time, compute samples), kept across changes
        self._late: deque[tuple[float, float]] = deque()            # (time, slack)
        self._since: float | None = None  # start of the current observation window
        self.window_s = WINDOW_S          # how long to be comfortably fast before coming down
        self._last_change = ""

    def headroom(self) -> float:
        """Slack kept beyond the worst block seen: the margin + half the compute p99 of the window."""
        compute = np.fromiter((c for _, c in self._compute), float, len(self._compute))
        return self.margin + 0.5 * (float(np.percentile(compute, 99)) if len(compute) else 0.0)

    def observe(self, at_s: float, slack: float, compute_s: float, silent: bool) -> int:
        """One block: its slack (device samples), compute time, and whether its output (and the
        previous block's) is silence. Returns the change to the latency (device samples), usually 0."""
        if self._since is None:
            self._since = at_s
        self._recent.append((at_s, slack))
        self._compute.append((at_s, compute_s * self.rate))
        for history in (self._recent, self._compute):
            while history and history[0][0] < at_s - self.window_s:
                history.popleft()
        if slack < 0:
            self._late.append((at_s, slack))
            while self._late[0][0] < at_s - LATE_WINDOW_S:
                self._late.popleft()
            if len(self._late) >= LATE_BLOCKS:
                worst = min(s for _, s in self._late)
                if self._last_change == "down":  # undoing a come-down: be slower to try again
                    self.window_s = min(2.0 * self.window_s, MAX_WINDOW_S)
                return self._change(at_s, -worst + self.headroom(), "up")
            return 0
        waited = at_s - self._since
        if waited < self.window_s or any(t >= at_s - self.window_s for t, _ in self._late):
            return 0
        excess = min(s for _, s in self._recent) - self.headroom()
        if excess > self.hysteresis and (silent or waited >= self.window_s + QUIET_WAIT_S):
            return self._change(at_s, -excess, "down")
        return 0

    def _change(self, at_s: float, delta: float, reason: str) -> int:
        self._last_change = reason
        new = min(max(self.latency + int(round(delta)), self.floor), self.ceiling)
        change, self.latency = new - self.latency, new
        # the slack seen so far was measured against the old latency: start afresh (compute times stay)
        self._recent.clear()
        self._late.clear()
        self._since = at_s
        return change
