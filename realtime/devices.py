"""The live backend on audio devices through sounddevice (PortAudio); device listing and checks re-exported.

SoundDeviceBackend opens a duplex stream (or separate input and output streams
when the devices differ, even at different rates: the slower side is
resampled by the engine's streaming resamplers only at the shared rate, so
separate streams must share one rate here) whose callback only hands the
buffers to Engine.device_io; the engine's worker thread does everything else.
"""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np

from core.errors import UserError
from realtime.device_query import (DeviceInfo, _sd, abandon_portaudio, check_devices, check_rate, close_streams,
                                   default_device, device_label, devices_label, list_devices, list_host_apis,
                                   no_device_message, open_failure, quiet_portaudio, resolve_device)
from realtime.monitor import MonitorTap
from realtime.simulator import SimulatedBackend  # noqa: F401 - re-exported: both backends live here

# DeviceInfo and the listing and checking functions are re-exported: the GUI asks this module about devices.
__all__ = ["DeviceInfo", "SimulatedBackend", "SoundDeviceBackend", "check_rate", "list_devices", "list_host_apis",
           "resolve_device"]


class SoundDeviceBackend:
    def __init__(self, input_device, output_device, samplerate: int | None, blocksize: int = 256, channels: int = 1,
                 monitor_device=None, monitor_gain_db: float = 0.0) -> None:
        self.input_device = resolve_device(input_device, "input")
        self.output_device = resolve_device(output_device, "output")
        if samplerate is None:
            sd = _sd()
            if self.input_device is None and default_device("input") is None:
                raise UserError(no_device_message("input"))
            try:
                samplerate = int(sd.query_devices(self.input_device, "input")["default_samplerate"])
            except sd.PortAudioError as exc:
                raise UserError(f"cannot query {device_label(self.input_device, 'input')}: {exc}") from None
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
        self._stopping = False
        self.lost: str | None = None  # why the stream ended by itself (a device gone), for one line to the user
        self._heard = (0, time.monotonic())  # (callback count, when it last moved), for stall detection

    def check_devices(self) -> None:
        check_devices(self.input_device, self.output_device, self.samplerate)

    def _devices_text(self) -> str:
        return devices_label(self.input_device, self.output_device)

    def start(self, engine) -> None:
        sd = _sd()
        self.check_devices()
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
            with quiet_portaudio():
                self._open_streams(sd, duplex, capture, play)
            self._heard = (self._callback_count, time.monotonic())
            engine.start_worker_thread()
            for stream in self._streams:
                stream.start()
        except sd.PortAudioError as exc:
            self.stop()
            abandon_portaudio()  # a JACK server that vanished makes PortAudio abort at exit
            raise UserError(open_failure(self.input_device, self.output_device, self.samplerate, exc)) from None
        self._start_monitor(engine)

    def _open_streams(self, sd, duplex, capture, play) -> None:
        """The duplex stream, or an input and an output stream when the devices differ."""
        ch = self.channels
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
        self.device_latency_ms += self._jack_uncounted_ms()

    def _jack_uncounted_ms(self) -> float:
        """On JACK, PortAudio states each side's port latency less one JACK buffer ("not counted"); the
        engine's latency counts from the callback, so both buffers belong to the device side here
        (measured end to end by `comosvc latency`). 0 elsewhere."""
        sd = _sd()
        apis = [api["name"] for api in sd.query_hostapis()]
        index = self.input_device if self.input_device is not None else default_device("input")
        if index is None or "JACK" not in apis[sd.query_devices(index)["hostapi"]]:
            return 0.0
        try:
            frames = int(subprocess.run(["jack_bufsize"], capture_output=True, text=True, timeout=5).stdout.split()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            frames = self.blocksize  # PortAudio's block is JACK's period unless asked otherwise
        return 2000.0 * frames / self.samplerate

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
        if self.lost is None and not self._stopping:
            # A device lost just now, before wait() looked: closing its stream would make PortAudio's JACK
            # host abort the whole process (an assertion in its clean-up), so look first.
            self.lost = self._device_problem()
        self._stopping = True
        monitor, self._monitor_stream = self._monitor_stream, None
        streams, self._streams = [*self._streams, *([monitor] if monitor is not None else [])], []
        if self.lost is not None:
            abandon_portaudio()  # stopping a stream whose JACK server is gone blocks forever
        elif streams:
            close_streams(streams)
        self._ended.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the stream has ended: stopped, or ended by itself (then `lost` says why, in one line)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = _WATCH_S if deadline is None else max(0.0, min(_WATCH_S, deadline - time.monotonic()))
            if self._ended.wait(step):
                if not self._stopping and self.lost is None:
                    self.lost = f"{self._devices_text()} ended the stream"
                return True
            problem = self._device_problem()
            if problem is not None:
                self.lost = problem
                self._ended.set()
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def _device_problem(self) -> str | None:
        """Why the running stream is dead (PortAudio says it is inactive, or no callback came for a while)."""
        streams = self._streams
        if self._stopping or not streams:
            return None
        if not all(stream.active for stream in streams):
            return (f"{self._devices_text()} stopped delivering audio (the JACK server stopped, or the device "
                    "was unplugged)")
        count, since = self._heard
        now = time.monotonic()
        if self._callback_count != count:
            self._heard = (self._callback_count, now)
        elif now - since > _STALL_S:
            return f"{self._devices_text()} delivered no audio for {_STALL_S:.0f} s"
        return None


_WATCH_S = 0.1  # how often wait() looks at the stream
_STALL_S = 3.0  # no callback for this long means the device is gone (the dummy JACK driver lags up to ~0.3 s)
