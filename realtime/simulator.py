"""SimulatedBackend: the engine against a virtual device clock, driven by a file or an array.

Callback k happens at virtual time (k+1)*blocksize/rate (+ jitter) and exchanges
one period of input and output with the engine, exactly as PortAudio would.
The worker is modelled honestly: a block can start once its input has arrived
and the worker is free; it ends after the compute time actually measured (plus
any injected stall), and its output reaches the ring only then. Output that
misses its callback is an underflow, counted as an xrun. A slow start
(`slow_start=(MS, SECONDS)`, a CPU busy at start-up) makes every block that starts
before SECONDS, and the engine's warm-up measurement, MS longer. With a fixed
`compute_ms` the engine is told the modelled times, so its statistics and latency
adaptation see the simulated world, not the machine running it. With realtime=False
this runs as fast as the machine allows; with realtime=True it paces itself
to the wall clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from core.errors import UserError


def parse_stall(text: str, what: str = "stall") -> tuple[float, float]:
    """'200@3.5' -> (200 ms, at 3.5 s)."""
    try:
        ms, at = text.split("@")
        value = (float(ms), float(at))
    except ValueError:
        raise UserError(f"a {what} is MS@SECONDS, e.g. 200@3.5, got '{text}'") from None
    if not all(np.isfinite(value)) or value[0] < 0 or value[1] < 0:
        raise UserError(f"{what} values must be finite and not negative: '{text}'")
    return value


class SimulatedBackend:
    def __init__(self, input_audio_or_path, samplerate: int = 48000, blocksize: int = 256, jitter_ms: float = 0.0,
                 stalls=(), realtime: bool = False, loop: bool = False, seed: int = 0,
                 duration_s: float | None = None, compute_ms: float | None = None,
                 keep_output: bool = True, slow_start: tuple[float, float] | None = None) -> None:
        self.samplerate, self.blocksize = int(samplerate), int(blocksize)
        if isinstance(input_audio_or_path, (str, Path)):
            from core.audio.io import load_audio

            audio = load_audio(input_audio_or_path, self.samplerate)
        else:
            audio = np.asarray(input_audio_or_path, dtype=np.float32).reshape(-1)
        if len(audio) == 0:
            raise UserError("the simulated input is empty")
        self.input = audio
        self.jitter_s = float(jitter_ms) / 1000.0
        self.stalls = sorted((float(ms) / 1000.0, float(at)) for ms, at in stalls)
        self.realtime, self.loop = realtime, loop
        self.duration_s = duration_s
        # None: the virtual worker takes the compute time actually measured; a number: exactly that
        # long per block (deterministic deadlines for tests, whatever else loads the machine)
        self.compute_s = None if compute_ms is None else float(compute_ms) / 1000.0
        extra_ms, until_s = slow_start if slow_start is not None else (0.0, 0.0)
        self.slow_extra_s, self.slow_until_s = float(extra_ms) / 1000.0, float(until_s)
        self.device_latency_ms = 0.0
        self._rng = np.random.default_rng(seed)
        # loop without a duration runs until stop(); its output is not kept (only the last period)
        self.endless = loop and duration_s is None
        self.keep_output = keep_output and not self.endless
        n = int(round(duration_s * self.samplerate)) if duration_s is not None else len(audio)
        self.n_callbacks = -(-n // self.blocksize)
        self.output = np.zeros(self.n_callbacks * self.blocksize if self.keep_output else self.blocksize,
                               dtype=np.float32)
        self.callback_lateness_ms: deque[float] = deque(maxlen=10000)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self.error: BaseException | None = None

    def start(self, engine) -> None:
        self._stop.clear()
        self._done.clear()
        self._thread = threading.Thread(target=self._run_safely, args=(engine,), name="simulated-device", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def warmup_compute_s(self, measured_s: float) -> float:
        """What the engine's warm-up would measure in the simulated world (its latency starts there)."""
        return (measured_s if self.compute_s is None else self.compute_s) + self.slow_extra_s

    def _block_time(self, measured_s: float, start: float) -> float:
        """How long the modelled worker takes for a block starting at `start` (stalls aside)."""
        base = measured_s if self.compute_s is None else self.compute_s
        return base + (self.slow_extra_s if start < self.slow_until_s else 0.0)

    def run(self, engine) -> np.ndarray:
        """Run the whole input through `engine` in this thread; returns what the device played."""
        engine._running = True
        try:
            self._simulate(engine)
        finally:
            engine._running = False
        return self.output

    def _run_safely(self, engine) -> None:
        try:
            self._simulate(engine)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller through .error
            self.error = exc
        finally:
            self._done.set()

    def _input_period(self, k: int) -> np.ndarray:
        D, n = self.blocksize, len(self.input)
        start = k * D
        if self.loop:
            idx = np.arange(start, start + D) % n
            return self.input[idx]
        chunk = np.zeros(D, dtype=np.float32)
        piece = self.input[start:start + D]
        chunk[:len(piece)] = piece
        return chunk

    def _simulate(self, engine) -> None:
        D, R = self.blocksize, self.samplerate
        stalls = list(self.stalls)
        period = D / R
        last = [0.0]

        def callback_time(i: int) -> float:  # nominal time plus jitter, never before the previous callback
            t = (i + 1) * period + (float(self._rng.uniform(0, self.jitter_s)) if self.jitter_s else 0.0)
            last[0] = max(last[0], t)
            return last[0]

        n_callbacks = float("inf") if self.endless else self.n_callbacks
        next_time = callback_time(0)
        prev_time = 0.0
        wall0 = time.perf_counter()
        worker_free = 0.0
        k = 0

        def callback() -> None:
            nonlocal k, next_time, prev_time
            if self.realtime:
                ahead = next_time - (time.perf_counter() - wall0)
                if ahead > 0:
                    time.sleep(ahead)
                self.callback_lateness_ms.append(max(0.0, -ahead) * 1000.0)
            out = self.output[k * D:(k + 1) * D] if self.keep_output else self.output
            engine.device_io(self._input_period(k), out)
            k += 1
            prev_time, next_time = next_time, callback_time(k)

        while k < n_callbacks and not self._stop.is_set():
            if not engine.block_ready():
                callback()
                continue
            start = max(worker_free, prev_time)
            work = engine.compute_block()
            if work is None:
                callback()
                continue
            block_time = self._block_time(work[3], start)
            work = (*work[:3], block_time, work[4])  # the engine measures the modelled worker
            finish = start + block_time
            while stalls and stalls[0][1] <= start:
                finish += stalls.pop(0)[0]
            # the device keeps running while the worker computes
            while k < n_callbacks and next_time < finish:
                callback()
            engine.out_ring.write(engine.finish_block(work))
            worker_free = finish
