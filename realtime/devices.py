"""Audio devices through sounddevice (PortAudio): listing, rate checks, and the live backend.

SoundDeviceBackend opens a duplex stream (or separate input and output streams
when the devices differ, even at different rates: the slower side is
resampled by the engine's streaming resamplers only at the shared rate, so
separate streams must share one rate here) whose callback only hands the
buffers to Engine.device_io; the engine's worker thread does everything else.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from core.errors import UserError
from realtime.monitor import MonitorTap
from realtime.simulator import SimulatedBackend  # noqa: F401 - re-exported: both backends live here

__all__ = ["DeviceInfo", "SimulatedBackend", "SoundDeviceBackend", "check_rate", "list_devices", "list_host_apis"]


def _sd():
    try:
        import sounddevice
    except (OSError, ImportError) as exc:
        raise UserError(f"PortAudio is not available ({exc}); install libportaudio2 and sounddevice") from None
    return sounddevice


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


def list_host_apis() -> list[str]:
    return [api["name"] for api in _sd().query_hostapis()]


def list_devices() -> list[DeviceInfo]:
    sd = _sd()
    apis = list_host_apis()
    default_in, default_out = (int(d) if d is not None else -1 for d in sd.default.device)
    return [DeviceInfo(i, d["name"], apis[d["hostapi"]], int(d["max_input_channels"]),
                       int(d["max_output_channels"]), float(d["default_samplerate"]), i == default_in, i == default_out)
            for i, d in enumerate(sd.query_devices())]


def resolve_device(device, kind: str) -> int | None:
    """A device index from an index, an exact name, or a unique part of a name; None = default."""
    if device is None or device == "":
        return None
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        index = int(device)
        devices = list_devices()
        if not 0 <= index < len(devices):
            raise UserError(f"no audio device #{index}; see 'comosvc devices'")
        return index
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    matches = [d for d in list_devices() if device.lower() in d.name.lower() and getattr(d, channels) > 0]
    exact = [d for d in matches if d.name == device]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0].index
    if not matches:
        raise UserError(f"no {kind} device matches '{device}'; see 'comosvc devices'")
    raise UserError(f"'{device}' matches several {kind} devices: {', '.join(d.name for d in matches)}")


def check_rate(device, samplerate: int, kind: str) -> str | None:
    """None if the device accepts the rate for one channel, else a message saying why not."""
    sd = _sd()
    try:
        index = resolve_device(device, kind)
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings
        check(device=index, samplerate=samplerate, channels=1, dtype="float32")
    except UserError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - PortAudio reports refusals in several exception types
        return f"{kind} device {device!r} refuses {samplerate} Hz: {exc}"
    return None


class SoundDeviceBackend:
    def __init__(self, input_device, output_device, samplerate: int | None, blocksize: int = 256, channels: int = 1,
                 monitor_device=None, monitor_gain_db: float = 0.0) -> None:
        self.input_device = resolve_device(input_device, "input")
        self.output_device = resolve_device(output_device, "output")
        if samplerate is None:
            sd = _sd()
            dev = sd.query_devices(self.input_device, "input")
            samplerate = int(dev["default_samplerate"])
        self.samplerate = int(samplerate)
        self.blocksize = int(blocksize)
        self.channels = int(channels)
        self.monitor_device, self.monitor_gain_db = monitor_device, monitor_gain_db
        self.device_latency_ms = 0.0
        self._callback_times = np.zeros(1 << 14, dtype=np.float64)  # ring of callback wall times
        self._callback_count = 0
        self._streams: list = []
        self._monitor_stream = None
        self._ended = threading.Event()

    def start(self, engine) -> None:
        sd = _sd()
        for kind, device in (("input", self.input_device), ("output", self.output_device)):
            problem = check_rate(device, self.samplerate, kind)
            if problem:
                raise UserError(problem)
        ch = self.channels
        scratch_in = np.zeros(self.blocksize * 8, dtype=np.float32)
        scratch_out = np.zeros(self.blocksize * 8, dtype=np.float32)

        times = self._callback_times
        clock = time.perf_counter

        def stamp() -> None:
            times[self._callback_count % len(times)] = clock()
            self._callback_count += 1

        def duplex(indata, outdata, frames, time_info, status):  # only copies; no allocation
            stamp()
            engine.device_io(indata[:, 0], scratch_out[:frames])
            for c in range(ch):
                outdata[:, c] = scratch_out[:frames]

        def capture(indata, frames, time_info, status):
            engine.device_io(indata[:, 0], scratch_out[:0])

        def play(outdata, frames, time_info, status):
            stamp()
            engine.device_io(scratch_in[:0], scratch_out[:frames])
            for c in range(ch):
                outdata[:, c] = scratch_out[:frames]

        try:
            if self.input_device == self.output_device or self.input_device is None and self.output_device is None:
                stream = sd.Stream(device=(self.input_device, self.output_device), samplerate=self.samplerate,
                                   blocksize=self.blocksize, channels=(1, ch), dtype="float32",
                                   latency="low", callback=duplex, finished_callback=self._ended.set)
                self._streams = [stream]
                self.device_latency_ms = 1000.0 * (stream.latency[0] + stream.latency[1])
            else:
                self._streams = [
                    sd.InputStream(device=self.input_device, samplerate=self.samplerate, blocksize=self.blocksize,
                                   channels=1, dtype="float32", latency="low", callback=capture),
                    sd.OutputStream(device=self.output_device, samplerate=self.samplerate, blocksize=self.blocksize,
                                    channels=ch, dtype="float32", latency="low", callback=play,
                                    finished_callback=self._ended.set)]
                self.device_latency_ms = 1000.0 * (self._streams[0].latency + self._streams[1].latency)
            engine.start_worker_thread()
            for stream in self._streams:
                stream.start()
        except sd.PortAudioError as exc:
            self.stop()
            raise UserError(f"cannot open the audio device: {exc}") from None
        self._start_monitor(engine)

    def _start_monitor(self, engine) -> None:
        """The separate monitor output, if asked for; a monitor that fails never stops the main stream."""
        if self.monitor_device is None:
            return
        sd = _sd()
        try:
            index = resolve_device(self.monitor_device, "output")
            problem = check_rate(index, self.samplerate, "output")
            if problem:
                raise UserError(problem)
        except UserError as exc:
            engine.report(f"monitor output not started: {exc}")
            return
        tap = MonitorTap(self.samplerate, self.monitor_gain_db)
        scratch = np.zeros(self.blocksize * 8, dtype=np.float32)
        ch = self.channels

        def monitor_play(outdata, frames, time_info, status):  # only copies; no allocation
            tap.device_io(scratch[:frames])
            for c in range(ch):
                outdata[:, c] = scratch[:frames]

        def monitor_ended() -> None:
            if self._streams and engine.monitor is tap:  # ended while the main stream runs: the device went
                tap.failed = "the monitor device stopped"

        try:
            stream = sd.OutputStream(device=index, samplerate=self.samplerate, blocksize=self.blocksize, channels=ch,
                                     dtype="float32", latency="low", callback=monitor_play,
                                     finished_callback=monitor_ended)
            engine.monitor = tap
            stream.start()
        except sd.PortAudioError as exc:
            engine.monitor = None
            engine.report(f"monitor output not started: {exc}")
            return
        self._monitor_stream = stream

    def callback_lateness_ms(self) -> np.ndarray:
        """How late each recent callback ran against an ideal clock fitted to them (the GIL's cost shows here)."""
        n = min(self._callback_count, len(self._callback_times))
        if n < 4:
            return np.zeros(0)
        start = self._callback_count - n
        idx = np.arange(start, self._callback_count)
        t = self._callback_times[idx % len(self._callback_times)]
        period = self.blocksize / self.samplerate
        ideal = t[0] + (idx - start) * period
        late = t - ideal
        return 1000.0 * (late - late.min())

    def stop(self) -> None:
        monitor, self._monitor_stream = self._monitor_stream, None
        for stream in [*self._streams, *([monitor] if monitor is not None else [])]:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a lost device must not stop shutdown
                pass
        self._streams = []
        self._ended.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)
