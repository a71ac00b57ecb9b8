"""One simulated streaming run with its report: shared by `comosvc simulate`, the tests and bench/."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from realtime.converter import Converter
from realtime.engine import MODEL_RATE, Engine
from realtime.offline import COMPARE_SKIP_S, comparable, compare_to_offline, offline_convert, to_rate
from realtime.presets import Preset
from realtime.simulator import SimulatedBackend


@dataclass
class SimulationReport:
    preset: str
    converter: str
    device_rate: int
    device_block: int
    block_ms: float
    latency_ms: float              # engine input-to-output delay (reported)
    measured_latency_ms: float | None  # from cross-correlation in bypass-free output vs offline, if compared
    #   (of the waveforms, or of their loudness envelopes where the waveforms do not correlate: offline_lag_method)
    compute_p50_ms: float
    compute_p99_ms: float
    compute_max_ms: float
    compute_p99_fraction: float    # p99 compute / block duration
    cpu_p50_ms: float              # the worker thread's CPU time per block (excludes time lost to other processes,
                                   # and the live pitch tracker's, which runs on the stream's pitch thread)
    cpu_p99_ms: float
    xruns: int
    drops: int
    blocks: int
    offline_logmel_distance: float | None
    offline_lag_samples: int | None
    offline_correlation: float | None
    offline_lag_method: str | None = None  # "waveform" or "envelope" (see realtime.offline.envelope_lag)
    initial_latency_ms: float = 0.0  # where the adaptive latency started (the warm-up estimate)
    # every change while streaming: {"at_s": input time, "latency_ms": new value, "reason": "down"/"up"/...};
    # measured_latency_ms is measured after the last one, so it checks the final latency_ms
    latency_changes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


CHANGE_MARGIN_S = (0.05, 0.25)  # left out around each latency change: its fade, skip or gap


def latency_spans(initial_ms: float, changes: list[dict], end_s: float) -> list[tuple[float, float, int]]:
    """(start s, end s, latency in 24 kHz samples) of each stretch of input between latency changes."""
    spans, start, latency_ms = [], COMPARE_SKIP_S, initial_ms
    for change in changes:
        spans.append((start, change["at_s"] - CHANGE_MARGIN_S[0], int(round(latency_ms * MODEL_RATE / 1000.0))))
        start, latency_ms = max(start, change["at_s"] + CHANGE_MARGIN_S[1]), change["latency_ms"]
    spans.append((start, end_s, int(round(latency_ms * MODEL_RATE / 1000.0))))
    return [(a, b, n) for a, b, n in spans if b > a]


def simulate(converter: Converter, preset: Preset, audio: np.ndarray, samplerate: int = 48000,
             blocksize: int = 256, jitter_ms: float = 0.0, stalls=(), compare: bool = True,
             duration_s: float | None = None, loop: bool = False, controls: dict | None = None,
             on_engine=None, compute_ms: float | None = None, keep_output: bool = True,
             slow_start: tuple[float, float] | None = None) -> tuple[SimulationReport, np.ndarray]:
    """Stream `audio` (at `samplerate`) through a fresh engine; returns the report and what the device played."""
    backend = SimulatedBackend(audio, samplerate=samplerate, blocksize=blocksize, jitter_ms=jitter_ms,
                               stalls=stalls, loop=loop, duration_s=duration_s, compute_ms=compute_ms,
                               keep_output=keep_output, slow_start=slow_start)
    engine = Engine(converter, preset, backend)
    for name, value in (controls or {}).items():
        getattr(engine, f"set_{name}")(value)
    if on_engine is not None:
        on_engine(engine)
    initial_latency_ms = engine.latency_ms
    compute: list[float] = []
    cpu: list[float] = []
    step = engine.finish_block

    def finish_and_record(work):
        compute.append(work[3] * 1000.0)
        cpu.append(work[4] * 1000.0)
        return step(work)

    engine.finish_block = finish_and_record
    played = backend.run(engine)
    times = np.asarray(compute) if compute else np.zeros(1)
    cpu_times = np.asarray(cpu) if cpu else np.zeros(1)
    block_ms = 1000.0 * engine.block / MODEL_RATE
    distance = lag = corr = measured = method = None
    latency_24k = int(round(engine.latency_samples * MODEL_RATE / samplerate))
    streamed_len = int(round(len(played) * MODEL_RATE / samplerate))
    changes = [{"at_s": round(c.at_s, 3), "latency_ms": c.latency_ms, "reason": c.reason}
               for c in engine.latency_changes]
    # the final latency holds from a little after the last change; measure it there if enough is left
    settled_s = max(COMPARE_SKIP_S, changes[-1]["at_s"] + 0.25) if changes else COMPARE_SKIP_S
    if not comparable(streamed_len, latency_24k, settled_s):
        settled_s = COMPARE_SKIP_S
    # A file shorter than latency + the skipped start-up + a little is not compared (the fields stay None).
    if compare and keep_output and not loop and duration_s is None and comparable(streamed_len, latency_24k):
        audio_24k = to_rate(audio, samplerate, MODEL_RATE)
        reference = offline_convert(converter, audio_24k, engine._controls())
        streamed_24k = to_rate(played, samplerate, MODEL_RATE)
        # an envelope lag judges every stretch at the latency then in force, not only the tail
        spans = latency_spans(initial_latency_ms, changes, len(reference) / MODEL_RATE)
        result = compare_to_offline(streamed_24k, reference, latency_24k, skip_s=settled_s, spans=spans)
        distance, lag, corr, method = result.logmel_distance, result.best_lag_samples, result.correlation, result.lag_method
        measured = 1000.0 * (latency_24k + lag) / MODEL_RATE
    report = SimulationReport(
        preset=preset.name, converter=converter.description, device_rate=samplerate, device_block=blocksize,
        block_ms=block_ms, latency_ms=engine.latency_ms, measured_latency_ms=measured,
        compute_p50_ms=float(np.percentile(times, 50)), compute_p99_ms=float(np.percentile(times, 99)),
        compute_max_ms=float(times.max()), compute_p99_fraction=float(np.percentile(times, 99) / block_ms),
        cpu_p50_ms=float(np.percentile(cpu_times, 50)), cpu_p99_ms=float(np.percentile(cpu_times, 99)),
        xruns=engine.xruns, drops=engine.drops, blocks=len(compute),
        offline_logmel_distance=distance, offline_lag_samples=lag, offline_correlation=corr,
        offline_lag_method=method,
        initial_latency_ms=initial_latency_ms, latency_changes=changes)
    return report, played
