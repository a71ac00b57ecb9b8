"""The engine's state for the GUI: one immutable object, swapped in atomically by the worker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EngineSnapshot:
    running: bool
    bypass: bool
    sample_rate: int               # rate of the waveforms below (model rate, 24000)
    input_wave: np.ndarray         # last ~2 s of input (float32)
    output_wave: np.ndarray        # last ~2 s of output
    f0_in_hz: np.ndarray           # last ~2 s of frame F0 of the input (0 unvoiced)
    f0_target_hz: np.ndarray       # the shifted target F0 the converter was given
    f0_out_hz: np.ndarray | None   # F0 measured on the output where available
    input_level_db: float          # dBFS
    output_level_db: float
    gate_open: bool
    compute_ms: np.ndarray         # per-block compute time history (last ~200 blocks)
    block_ms: float
    latency_ms: float              # algorithmic latency of the chain (input to output, device buffers excluded)
    device_latency_ms: float       # input + output device buffer latency reported by PortAudio
    compute_p50_ms: float
    compute_p99_ms: float
    xruns: int
    cpu_load: float                # 0..1 of the block budget used by compute, smoothed
    recording: bool
    messages: tuple[str, ...]      # recent errors/warnings for the UI (the newest MESSAGES_KEPT)
    converter: str = ""            # converter description
    drops: int = 0                 # blocks dropped to keep latency bounded
    latency_changes: int = 0       # times latency_ms changed while running (adaptation, rebuilds)
    messages_posted: int = 0       # messages since the engine was made: tells new ones once `messages` is full


MESSAGES_KEPT = 20


def new_messages(snapshot: EngineSnapshot, seen: int) -> tuple[list[str], int]:
    """The messages posted since `seen` had been (those still kept), and the count to pass next time."""
    fresh = min(max(snapshot.messages_posted - seen, 0), len(snapshot.messages))
    return list(snapshot.messages[len(snapshot.messages) - fresh:]), snapshot.messages_posted


def empty_snapshot(sample_rate: int = 24000, block_ms: float = 0.0) -> EngineSnapshot:
    z = np.zeros(0, dtype=np.float32)
    return EngineSnapshot(False, False, sample_rate, z, z, z, z, None, -120.0, -120.0, False, z, block_ms,
                          0.0, 0.0, 0.0, 0.0, 0, 0.0, False, ())
