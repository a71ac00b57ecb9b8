"""The live engine: device rings, a worker running the plugin chain, latency control.

Device side (`device_io`, called from the PortAudio callback or the simulator):
copy input into one preallocated ring, copy scheduled output out of another,
count xruns. Nothing else: no model, no allocation, no logging, no lock.

Worker side (`step`, called by the worker thread or the simulator): per block,
resample device rate -> 24 kHz, run the chain (gain, gate, converter with its
window and SOLA, effects, limiter), mix the delayed dry signal for bypass,
resample back, and schedule the result so that every output sample plays
exactly `latency` after its input. If the worker fell behind it drops input
and restarts the chain with a fade; if output arrived late it drops the late
part with a fade: latency never creeps, and no chunk is ever replayed.

The latency itself adapts (realtime.adaptive_latency): it starts from a warm-up
estimate, comes down when the worker has been comfortably fast for a while
(crossfading the skipped stretch, preferably while the output is silent) and goes
up, with a fade out, a gap and a fade in, only when blocks keep arriving late.
"""

from __future__ import annotations

import gc
import math
import sys
import threading
import time
from collections import deque

import numpy as np

from core.errors import UserError
from realtime.adaptive_latency import LatencyChange, LatencyController
from realtime.converter import Converter, ConverterControls, tracker_for
from realtime.gate import rms_db
from realtime.monitor import MonitorTap
from realtime.plugins import ConverterPlugin, GainPlugin, GatePlugin, PluginChain, make_plugin
from realtime.presets import KEEP_UP_HEADROOM, Preset, preset_keeping_up
from realtime.recorder import StreamRecorder
from realtime.resampler import StreamingResampler
from realtime.ring import SampleRing
from realtime.snapshot import MESSAGES_KEPT, EngineSnapshot, empty_snapshot
from realtime.sola import fade_curves
from realtime.stats import History, Scope

MODEL_RATE = 24000
SCOPE_SECONDS = 2.0
RESET_FADE_MS = 5.0
# How the notices of a machine too slow for the preset begin (the GUI shows them; tests tell them from errors).
OVERLOAD_NOTICE = "overload: dropped"
LATENCY_RAISED_NOTICE = "latency raised to"
TOO_SLOW_NOTICE = "too slow for the preset"
LOAD_NOTICES = (OVERLOAD_NOTICE, LATENCY_RAISED_NOTICE, TOO_SLOW_NOTICE)
TOO_SLOW_BLOCKS = 16  # recent blocks whose median compute decides whether the preset can keep up


class DelayLine:
    """Fixed delay in samples, for the dry path (bypass stays time-aligned with the wet path)."""

    def __init__(self, delay: int) -> None:
        self._buf = np.zeros(max(int(delay), 0), dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        if len(self._buf) == 0:
            return block.copy()
        joined = np.concatenate([self._buf, block])
        self._buf = joined[len(block):]
        return joined[:len(block)]


class Engine:
    def __init__(self, converter: Converter, preset: Preset, backend) -> None:
        self.backend = backend
        self.converter = converter
        self.device_rate = int(backend.samplerate)
        self._preset = preset
        # live controls: plain attributes written by any thread, read once per block by the worker
        self._singer = converter.singers[0] if converter.singers else None
        self._pitch = 0.0
        self._auto_transpose = False
        self._retrieval = 0.0
        self._latent_scale: float | None = None  # None: each model samples at its own
        self._f0_method = converter.f0_methods[0] if converter.f0_methods else "dio"
        self._f0_request = 0  # counts switches asked for; only the latest one's tracker is switched to
        if preset.f0_method in converter.f0_methods:  # not started: the worker makes it in its warm-up
            self._f0_method = preset.f0_method
        self._f0_wanted = self._f0_method  # the latest asked for; differs from _f0_method while it loads
        self._gate_threshold: float | None = None
        self._input_gain_db = 0.0
        self._output_gain_db = 0.0
        self._bypass = False
        self._pending_preset: Preset | None = None
        self._pending_converter: Converter | None = None
        self._recorder: StreamRecorder | None = None
        self._running = False
        self.monitor: MonitorTap | None = None  # a second output, attached by a backend that has one
        self._thread: threading.Thread | None = None
        self._messages: deque[str] = deque(maxlen=MESSAGES_KEPT)
        self._messages_posted = 0
        self._post_lock = threading.Lock()  # posts come from the worker and the control threads
        self.too_slow_advice: str | None = None  # see _check_keeping_up
        self._snapshot = empty_snapshot(MODEL_RATE, preset.block_ms)
        capacity = int(self.device_rate * 4)
        self.in_ring = SampleRing(capacity)
        self.out_ring = SampleRing(capacity)
        # device-side counters (written only by device_io)
        self.underflows = 0
        self.overflows = 0
        self.zeros_played = 0      # samples the device played as silence because the ring was short
        self._in_resampler = StreamingResampler(self.device_rate, MODEL_RATE)
        self._out_resampler = StreamingResampler(MODEL_RATE, self.device_rate)
        self._compute = History(200)
        self._cpu_load = 0.0
        self.drops = 0
        self.compute_estimate_s = 0.0
        self._latency_changes: deque[LatencyChange] = deque(maxlen=100)
        self.latency_change_count = 0
        self._zeros_seen = 0        # zeros_played when the last block was scheduled
        self._out_silent = True     # the last scheduled block was all zeros
        self._faded_out = False     # the last block ended in a fade-out; the next one fades in
        # stream positions survive a rebuild, so the schedule stays anchored to the device clock
        self._fifo = np.zeros(0, dtype=np.float32)
        self._in_pos = 0.0        # 24 kHz input-stream index of the next fifo sample
        self._out_pos = 0         # 24 kHz output-stream samples handed to the output resampler
        self._out_dev = 0         # device-rate samples the output resampler produced
        self._build(preset, converter)
        # Everything alive now (model, torch, Qt) leaves the garbage collector's view: a full
        # collection over it takes ~60-70 ms, which mid-stream is an xrun at small blocks.
        gc.collect()
        gc.freeze()

    # ---- set-up -------------------------------------------------------------------------------
    def _build(self, preset: Preset, converter: Converter) -> None:
        """(Re)build the chain for a preset; called before start and, for a new block size, by the worker."""
        sr = MODEL_RATE
        self._preset = preset
        # _check_keeping_up speaks once per build (a preset or model change), from the first block after it
        self.too_slow_advice = None
        self._blocks_checked = 0
        self._trouble_seen = None  # (xruns, drops) at the last check
        self.converter = converter
        self.block = preset.samples("block_ms", sr)
        self.converter_plugin = ConverterPlugin(converter, preset.samples("context_ms", sr),
                                                preset.samples("lookahead_ms", sr), preset.samples("crossfade_ms", sr),
                                                preset.samples("sola_search_ms", sr))
        self.converter_plugin.controls = self._controls()
        plugins = [make_plugin(spec, self.converter_plugin) for spec in preset.chain]
        self.chain = PluginChain(plugins)
        self.chain.prepare(sr, self.block)
        self._gate = next((p for p in plugins if isinstance(p, GatePlugin)), None)
        self._in_gain = next((p for p in plugins if isinstance(p, GainPlugin) and p.name == "input_gain"), None)
        self._out_gain = next((p for p in plugins if isinstance(p, GainPlugin) and p.name == "output_gain"), None)
        if self._gate is not None and self._gate_threshold is not None:
            self._gate.set_threshold(self._gate_threshold)
        for plugin, db in ((self._in_gain, self._input_gain_db), (self._out_gain, self._output_gain_db)):
            if plugin is not None:
                plugin.db = db
        self._dry_delay = DelayLine(self.chain.latency_samples)
        self._mix = 1.0 if self._bypass else 0.0
        self._needs_realign = True
        self._measure_compute()
        fixed = self._fixed_latency()
        R, margin_s = self.device_rate, self._preset.output_margin_ms / 1000.0
        # compute can never usefully cost more than a block (a slower worker only queues; it drops)
        ceiling = fixed + int(math.ceil((1.5 * self.block / MODEL_RATE + margin_s) * R))
        self._controller = LatencyController(R, self._target_latency(), fixed + int(math.ceil(margin_s * R)),
                                             ceiling, margin_s)
        self._latency_dev = self._controller.latency
        n_scope = int(SCOPE_SECONDS * sr)
        n_frames = int(SCOPE_SECONDS * sr / converter.hop_length)
        self._scope_in, self._scope_out = Scope(n_scope), Scope(n_scope)
        self._f0_in, self._f0_target = Scope(n_frames), Scope(n_frames)
        self._fade_in, self._fade_out = fade_curves(int(RESET_FADE_MS * self.device_rate / 1000), "equal-power")

    def _measure_compute(self) -> None:
        """Time the converter on a voiced tone (silence is cheaper than singing) so that the output
        fill target starts from measured compute."""
        n = self.converter_plugin.window_length
        phase = 2 * np.pi * 220.0 * np.arange(n) / MODEL_RATE
        window = (0.2 * np.sin(phase) + 0.05 * np.sin(3 * phase)).astype(np.float32)
        # One untimed call first: the first call pays one-off costs (allocation, lazy model set-up).
        self.converter.convert(window, self.converter_plugin.context, self.converter_plugin.region, self._controls())
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            self.converter.convert(window, self.converter_plugin.context, self.converter_plugin.region, self._controls())
            times.append(time.perf_counter() - t0)
        self.converter.reset()
        self.compute_estimate_s = max(times)
        modelled = getattr(self.backend, "warmup_compute_s", None)  # a simulated device's own worker time
        if modelled is not None:
            self.compute_estimate_s = float(modelled(self.compute_estimate_s))

    def _fixed_latency(self) -> int:
        """The delay no compute can shorten, in device samples: block + chain + resamplers + device period."""
        sr, R = MODEL_RATE, self.device_rate
        model = self.block + self.chain.latency_samples
        resamplers = self._in_resampler.delay_out_samples + self._out_resampler.delay_out_samples * sr / R
        return int(math.ceil((model + resamplers) * R / sr + self.backend.blocksize))

    def _target_latency(self) -> int:
        """The starting input-to-output delay in device samples: the fixed part + 1.5 x the warm-up
        compute + margin (then adapted while streaming, never creeping)."""
        compute = self.compute_estimate_s * 1.5 + self._preset.output_margin_ms / 1000.0
        return self._fixed_latency() + int(math.ceil(compute * self.device_rate))

    # ---- device side --------------------------------------------------------------------------
    def device_io(self, inp: np.ndarray, out: np.ndarray) -> None:
        """The callback's whole job: move samples between the device buffers and the rings."""
        if self.in_ring.write(inp) < len(inp):
            self.overflows += 1
        got = self.out_ring.read_into(out)
        if got < len(out):
            out[got:] = 0.0
            self.zeros_played += len(out) - got
            if self.out_ring.written:  # silence before the first output is not an xrun
                self.underflows += 1

    @property
    def xruns(self) -> int:
        return self.underflows + self.overflows

    # ---- worker side --------------------------------------------------------------------------
    def block_ready(self) -> bool:
        """Whether the input needed for one block has arrived (an estimate; step() decides)."""
        need = (self.block - len(self._fifo)) * self.device_rate / MODEL_RATE
        return self.in_ring.fill >= max(need, 1)

    def step(self) -> np.ndarray | None:
        """Process at most one block; returns device-rate samples to append to the output ring."""
        work = self.compute_block()
        return None if work is None else self.finish_block(work)

    def compute_block(self) -> tuple[np.ndarray, np.ndarray, float, float, float] | None:
        """The costly half of a step: gather input, run the chain. None if no block is ready."""
        self._apply_pending()
        fill = self.in_ring.fill
        if fill:
            raw = np.empty(fill, dtype=np.float32)
            self.in_ring.read_into(raw)
            self._fifo = np.concatenate([self._fifo, self._in_resampler.process(raw)])
        if len(self._fifo) < self.block:
            return None
        if len(self._fifo) >= 3 * self.block:  # fell behind: keep only the freshest block
            dropped = len(self._fifo) - self.block
            self._fifo = self._fifo[dropped:]
            self._in_pos += dropped
            self.drops += 1
            self.chain.reset()
            self._dry_delay = DelayLine(self.chain.latency_samples)
            self._needs_realign = True
            self._post(f"{OVERLOAD_NOTICE} {1000.0 * dropped / MODEL_RATE:.0f} ms of input")
        t0, cpu0 = time.perf_counter(), time.thread_time()
        block = np.nan_to_num(self._fifo[:self.block], nan=0.0, posinf=0.0, neginf=0.0)
        np.clip(block, -4.0, 4.0, out=block)
        self._fifo = self._fifo[self.block:]
        block_pos = self._in_pos
        self._in_pos += self.block
        dry = block.copy()
        self.converter_plugin.controls = self._controls()
        self.chain.process(block)
        while self.chain.messages:
            self._post(self.chain.messages.pop(0))
        out24 = self._mix_bypass(block, self._dry_delay.process(dry))
        np.nan_to_num(out24, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        np.clip(out24, -1.0, 1.0, out=out24)
        # wall time decides deadlines; this thread's CPU time tells the block's own cost apart from
        # time lost to other processes
        return dry, out24, block_pos, time.perf_counter() - t0, time.thread_time() - cpu0

    def finish_block(self, work: tuple[np.ndarray, np.ndarray, float, float, float]) -> np.ndarray:
        """The cheap half: resample back, schedule against the device clock now, publish."""
        dry, out24, block_pos, elapsed, _cpu = work
        out_dev = self._schedule(self._out_resampler.process(out24), block_pos, elapsed)
        self._publish(dry, out24, elapsed)
        if self._recorder is not None:
            self._recorder.push(dry, out24)
        return out_dev

    def _controls(self) -> ConverterControls:
        return ConverterControls(self._singer, self._pitch, self._auto_transpose, self._f0_method, self._retrieval,
                                 self._latent_scale)

    def _mix_bypass(self, wet: np.ndarray, dry: np.ndarray) -> np.ndarray:
        target = 1.0 if self._bypass else 0.0
        if target == self._mix:
            return dry if target == 1.0 else wet
        ramp = np.linspace(self._mix, target, len(wet), dtype=np.float32)
        self._mix = target
        fade_dry, fade_wet = np.sin(0.5 * np.pi * ramp), np.cos(0.5 * np.pi * ramp)
        return (wet * fade_wet + dry * fade_dry).astype(np.float32)

    def _schedule(self, out: np.ndarray, block_pos: float, elapsed: float) -> np.ndarray:
        """Pad or trim so the first sample plays exactly `latency` after its input; adapt the latency."""
        sr, R = MODEL_RATE, self.device_rate
        d_out = self._out_resampler.delay_out_samples
        # content of device output sample #_out_dev: 24 kHz output-stream time, then input-stream time
        q0 = (self._out_dev - d_out) * sr / R
        x0 = block_pos + (q0 - self._out_pos) - self.chain.latency_samples
        input_dev = (x0 - self._in_resampler.delay_out_samples) * R / sr
        desired = input_dev + self._latency_dev
        self._out_dev += len(out)
        self._out_pos += self.block
        actual = self.out_ring.written + self.zeros_played
        error = int(round(desired - actual))
        # nothing to continue from: no output yet, the device ran dry since the last block, or it faded out
        broken = not self.out_ring.written or self.zeros_played != self._zeros_seen or self._faded_out
        self._zeros_seen = self.zeros_played
        silent = not out.any()
        # slack: device samples between this block being ready and the device needing its first sample
        change = self._controller.observe(block_pos / sr, error + self.out_ring.fill, elapsed,
                                          silent and self._out_silent)
        self._out_silent = silent
        if change:
            self._latency_dev += change
            error += change
            self._record_latency_change(block_pos / sr, "down" if change < 0 else "up")
        if not self._needs_realign and abs(error) <= 2:
            return out
        return self._realign(out, error, broken)

    def _realign(self, out: np.ndarray, error: int, broken: bool) -> np.ndarray:
        """Move the output by `error` samples (later if positive) without a click, replay or loss
        beyond the skipped stretch."""
        self._needs_realign = False
        n_fade = min(len(self._fade_in), len(out))
        fade_in, fade_out = self._fade_in[:n_fade], self._fade_out[:n_fade]
        if error > 0:
            gap = np.zeros(error, dtype=np.float32)
            if broken:  # from silence: at the start the chain fades itself in; later, fade in here
                if self.out_ring.written:
                    out = out.copy()
                    out[:n_fade] *= fade_in
                return np.concatenate([gap, out])
            # later mid-stream: fade out, a gap, fade back in (nothing replayed, nothing lost)
            head, rest = out[:n_fade] * fade_out, out[n_fade:].copy()
            rest[:n_fade] *= fade_in[:len(rest[:n_fade])]
            return np.concatenate([head, gap, rest])
        if error == 0:
            return out
        skip = -error
        if not broken and skip + n_fade <= len(out):  # earlier mid-stream: crossfade over the skip
            joined = out[:n_fade] * fade_out + out[skip:skip + n_fade] * fade_in
            return np.concatenate([joined, out[skip + n_fade:]])
        if not broken:  # more than this block: fade out now, the next block skips the rest and fades in
            self._faded_out = self._needs_realign = True
            return out[:n_fade] * fade_out
        # late (the device already played silence in its place) or faded out: drop what is past
        out = out[skip:].copy()
        if self.out_ring.written and not self._faded_out:
            self.drops += 1
        n = min(len(out), n_fade)
        out[:n] *= fade_in[:n]
        self._needs_realign = len(out) == 0
        self._faded_out = self._faded_out and self._needs_realign
        return out

    def _check_keeping_up(self) -> None:
        """Every TOO_SLOW_BLOCKS blocks, until it has advised once for this build: where that stretch had
        xruns or drops and its median compute leaves less than the headroom a preset needs
        (realtime.presets.KEEP_UP_HEADROOM), a higher latency cannot help a worker that falls behind, so
        name a preset with blocks long enough for this machine."""
        trouble = (self.xruns, self.drops)
        if self._trouble_seen is None:  # the first block since the build: the rebuild's own hitch is not counted
            self._trouble_seen = trouble
        self._blocks_checked += 1
        if self.too_slow_advice is not None or self._blocks_checked % TOO_SLOW_BLOCKS:
            return
        late, self._trouble_seen = trouble != self._trouble_seen, trouble
        recent = self._compute.values()[-TOO_SLOW_BLOCKS:]
        if not late or len(recent) < TOO_SLOW_BLOCKS:
            return
        block_ms = 1000.0 * self.block / MODEL_RATE
        median = float(np.median(recent))
        if block_ms >= KEEP_UP_HEADROOM * median:
            return  # late for another reason (a stall, a busy moment): the adaptive latency handles that
        better = preset_keeping_up(median)
        advice = (f"try the '{better.name}' preset ({better.block_ms:.0f} ms blocks)" if better is not None else
                  "no built-in preset has blocks that long: it needs a faster machine or a GPU")
        self.too_slow_advice = (f"{TOO_SLOW_NOTICE} '{self._preset.name}' on this machine: its {block_ms:.0f} ms "
                                f"blocks take {median:.0f} ms each to convert, too close for a higher latency to "
                                f"help; {advice}")
        self._post(self.too_slow_advice)

    def _record_latency_change(self, at_s: float, reason: str) -> None:
        self._latency_changes.append(LatencyChange(at_s, self.latency_ms, reason))
        self.latency_change_count += 1
        if reason == "up":
            self._post(f"{LATENCY_RAISED_NOTICE} {self.latency_ms:.0f} ms: blocks kept arriving late")

    def _publish(self, dry: np.ndarray, out24: np.ndarray, elapsed: float) -> None:
        self._compute.push(elapsed * 1000.0)
        self._check_keeping_up()
        block_s = self.block / MODEL_RATE
        self._cpu_load = 0.9 * self._cpu_load + 0.1 * min(elapsed / block_s, 1.0)
        self._scope_in.push(dry)
        self._scope_out.push(out24)
        result = self.converter_plugin.last_result
        if result is not None:
            n = self.block // self.converter.hop_length
            self._f0_in.push(np.asarray(result.f0_in[:n], dtype=np.float32))
            self._f0_target.push(np.asarray(result.f0_target[:n], dtype=np.float32))
        self._snapshot = self._make_snapshot(rms_db(dry), rms_db(out24))

    def _make_snapshot(self, in_db: float = -120.0, out_db: float = -120.0) -> EngineSnapshot:
        with self._post_lock:  # the messages and their count as one: a post between them would be lost
            messages, posted = tuple(self._messages), self._messages_posted
        return EngineSnapshot(
            running=self._running, bypass=self._bypass, sample_rate=MODEL_RATE,
            input_wave=self._scope_in.copy(), output_wave=self._scope_out.copy(),
            f0_in_hz=self._f0_in.copy(), f0_target_hz=self._f0_target.copy(), f0_out_hz=None,
            input_level_db=in_db, output_level_db=out_db,
            gate_open=self._gate.is_open if self._gate is not None else True,
            compute_ms=self._compute.values(), block_ms=1000.0 * self.block / MODEL_RATE,
            latency_ms=self.latency_ms, device_latency_ms=float(getattr(self.backend, "device_latency_ms", 0.0)),
            compute_p50_ms=self._compute.percentile(50), compute_p99_ms=self._compute.percentile(99),
            xruns=self.xruns, cpu_load=self._cpu_load, recording=self._recorder is not None,
            messages=messages, converter=self.converter.description, drops=self.drops,
            latency_changes=self.latency_change_count, messages_posted=posted)

    def _apply_pending(self) -> None:
        preset, self._pending_preset = self._pending_preset, None
        converter, self._pending_converter = self._pending_converter, None
        if preset is None and converter is None:
            return
        old_latency = self._latency_dev
        self._build(preset or self._preset, converter or self.converter)
        if self._latency_dev != old_latency:
            self._record_latency_change(self._in_pos / MODEL_RATE, "rebuild")
            self._post(f"latency now {self.latency_ms:.1f} ms")

    # ---- public API ---------------------------------------------------------------------------
    @property
    def latency_ms(self) -> float:
        """Input-to-output delay of the engine (device buffers beyond one period excluded)."""
        return 1000.0 * self._latency_dev / self.device_rate

    @property
    def latency_samples(self) -> int:
        return self._latency_dev

    @property
    def latency_changes(self) -> list[LatencyChange]:
        """The most recent latency changes (adaptation and rebuilds), oldest first."""
        return list(self._latency_changes)

    @property
    def preset(self) -> Preset:
        return self._preset

    @property
    def running(self) -> bool:
        return self._running

    @property
    def singers(self) -> list[str]:
        return list(self.converter.singers)

    @property
    def singer(self) -> str | None:
        """The active target singer (the converter's first where none was chosen)."""
        return self._singer

    def start(self) -> None:
        if self._running:
            return
        sys.setswitchinterval(0.001)  # the callback needs the GIL; don't let the worker hold it 5 ms
        self._running = True
        try:
            self.backend.start(self)
        except Exception:
            self._running = False
            raise

    def run_worker(self) -> None:
        """The worker thread's loop for real devices: poll the input ring, never block the callback."""
        idle = min(0.002, self.block / MODEL_RATE / 8)
        while self._running:
            out = self.step()
            if out is None:
                time.sleep(idle)
            else:
                if self.out_ring.write(out) < len(out):
                    self.overflows += 1
                if self.monitor is not None:
                    self.monitor.feed(out)
                    if self.monitor.failed:
                        self.report(f"monitor output stopped: {self.monitor.failed}")
                        self.monitor = None

    def start_worker_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_worker, name="comosvc-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self.backend.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
            self._thread = None
        if self._recorder is not None:
            self.stop_recording()
        self._snapshot = self._make_snapshot()

    def wait(self, timeout: float | None = None) -> bool:
        """Until the backend ends by itself (a simulated file played out); True if it ended."""
        return self.backend.wait(timeout)

    def snapshot(self) -> EngineSnapshot:
        return self._snapshot

    def set_singer(self, name: str) -> None:
        if name not in self.converter.singers:
            raise UserError(f"unknown singer '{name}'; known singers: {', '.join(self.converter.singers)}")
        self._singer = name

    def set_pitch(self, semitones: float) -> None:
        from core.features.pitch import check_pitch_shift

        self._pitch = check_pitch_shift(semitones)

    def set_auto_transpose(self, on: bool) -> None:
        self._auto_transpose = bool(on)

    def set_retrieval(self, ratio: float) -> None:
        """The feature-retrieval ratio 0..1; a converter without an index refuses any above 0."""
        from core.features.retrieval import check_retrieval_ratio, no_index_error

        ratio = check_retrieval_ratio(ratio)
        if ratio > 0 and not getattr(self.converter, "retrieval_available", False):
            raise no_index_error(getattr(getattr(self.converter, "model", None), "path", None))
        self._retrieval = ratio

    def set_latent_scale(self, scale: float | None) -> None:
        """The student's starting-noise scale (a sampling temperature); None returns to each model's own.
        Kept across model swaps; a converter without a student refuses a value."""
        from core.sampling_settings import checked_live_latent_scale

        own = getattr(self.converter, "own_latent_scale", None)
        self._latent_scale = checked_live_latent_scale(scale, own, self.converter.description)

    def set_f0_method(self, name: str) -> None:
        if name not in self.converter.f0_methods:
            raise UserError(f"unknown f0 method '{name}'; available: {', '.join(self.converter.f0_methods)}")
        self._switch_f0_method(name)

    def _switch_f0_method(self, name: str, converter: Converter | None = None) -> None:
        """The worker switches once the tracker is made, on a thread of its own.

        A neural tracker takes up to a second to load (FCPE is traced and run at
        load); made in the worker, that would stall conversion and run the output
        dry. Until it is ready the old tracker goes on; the latest request wins.
        `converter` is the one to make it for (a swap's new one; else the current).
        """
        converter = converter or self.converter
        self._f0_request += 1
        request = self._f0_request
        self._f0_wanted = name
        prepare = getattr(converter, "prepare_f0_method", None)
        if prepare is None:  # nothing to load (the stand-in)
            self._f0_method = name
            return

        def load() -> None:
            try:
                prepare(name)
            except Exception as exc:  # noqa: BLE001 - reported; the old tracker goes on
                if request == self._f0_request:
                    self._f0_wanted = self._f0_method
                self.report(f"pitch tracker {name} could not be loaded ({exc}); still using {self._f0_method}")
                return
            if request == self._f0_request:
                self._f0_method = name

        threading.Thread(target=load, name=f"load-{name}", daemon=True).start()

    def set_gate_threshold(self, db: float) -> None:
        self._gate_threshold = float(db)
        if self._gate is not None:
            self._gate.set_threshold(float(db))

    def set_input_gain(self, db: float) -> None:
        self._input_gain_db = float(db)
        if self._in_gain is not None:
            self._in_gain.db = float(db)

    def set_output_gain(self, db: float) -> None:
        self._output_gain_db = float(db)
        if self._out_gain is not None:
            self._out_gain.db = float(db)

    def set_monitor_gain(self, db: float) -> None:
        if self.monitor is not None:
            self.monitor.set_gain(db)

    def report(self, message: str) -> None:
        """A one-line message for the status line / window (from any thread but the callback)."""
        self._post(message)

    def _post(self, message: str) -> None:
        with self._post_lock:
            self._messages.append(message)
            self._messages_posted += 1

    def set_bypass(self, on: bool) -> None:
        self._bypass = bool(on)

    def _follow_preset_f0(self, preset: Preset) -> None:
        """A preset that names a pitch tracker selects it (set_f0_method overrides it later)."""
        if preset.f0_method in self.converter.f0_methods:
            self._switch_f0_method(preset.f0_method)

    def set_preset(self, preset: Preset) -> None:
        """Applied by the worker at the next block: chain rebuilt, output re-aligned with a fade."""
        self._follow_preset_f0(preset)
        if not self._running:
            self._build(preset, self.converter)
        else:
            self._pending_preset = preset

    def swap_converter(self, converter: Converter) -> None:
        """Hot swap a preloaded converter: crossfaded inside the worker, or rebuilt if its latency differs.

        The pitch tracker in use is made for the new converter here, on the caller's thread: made by
        the worker at the new converter's first block, FCPE (traced at load) would cut the sound.
        """
        prepare = getattr(converter, "prepare_f0_method", None)
        if prepare is not None and self._f0_method in converter.f0_methods:
            try:
                prepare(self._f0_method)
            except Exception as exc:  # noqa: BLE001 - reported; the worker tries again and reports a failure
                self.report(f"pitch tracker {self._f0_method} could not be loaded for {converter.description} ({exc})")
        try:
            self.converter_plugin.swap(converter)
            self.converter = converter
        except UserError:
            if not self._running:
                self._build(self._preset, converter)
            else:
                self._pending_converter = converter
        if self._singer not in converter.singers:
            self._singer = converter.singers[0] if converter.singers else None
        loading = self._f0_wanted if self._f0_wanted != self._f0_method else None
        method = tracker_for(converter, self._f0_method)
        if method != self._f0_method:
            self._f0_request += 1  # a tracker still loading for the old converter must not switch to it
            self.report(f"{converter.description} has no pitch tracker {self._f0_method}; using {method}")
            self._f0_method = self._f0_wanted = method
        # A tracker asked for before the swap was being made for the old converter only.
        if loading is not None and loading != self._f0_method:
            if loading in converter.f0_methods:
                self._switch_f0_method(loading, converter)
            else:
                self._f0_request += 1
                self._f0_wanted = self._f0_method
                self.report(f"{converter.description} has no pitch tracker {loading}; staying with {self._f0_method}")

    def start_recording(self, folder: str) -> None:
        if self._recorder is not None:
            raise UserError("already recording")
        self._recorder = StreamRecorder(folder, MODEL_RATE)

    def stop_recording(self) -> list[str]:
        recorder, self._recorder = self._recorder, None
        return recorder.close() if recorder is not None else []
