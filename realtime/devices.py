"""Audio devices through sounddevice (PortAudio): listing, rate checks, and the live backend.

SoundDeviceBackend opens a duplex stream (or separate input and output streams
when the devices differ, even at different rates: the slower side is
resampled by the engine's streaming resamplers only at the shared rate, so
separate streams must share one rate here) whose callback only hands the
buffers to Engine.device_io; the engine's worker thread does everything else.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
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


DEVICE_BLOCKS = (16, 8192)  # device buffer sizes, in samples, that the live paths accept


def check_device_block(samples: int) -> None:
    low, high = DEVICE_BLOCKS
    if not low <= samples <= high:
        raise UserError(f"--device-block must be between {low} and {high} samples, got {samples}")


SAMPLE_RATES = (8000, 192000)  # device rates, in Hz, worth asking a device about


def check_samplerate(rate: int | None) -> None:
    low, high = SAMPLE_RATES
    if rate is not None and not low <= rate <= high:
        raise UserError(f"--samplerate must be between {low} and {high} Hz, got {rate}")


def default_device(kind: str) -> int | None:
    """The index of the system's default input or output device; None where PortAudio has none."""
    sd = _sd()
    try:
        index = int(sd.query_devices(kind=kind)["index"])
    except (sd.PortAudioError, KeyError, TypeError, ValueError):
        return None
    return index if index >= 0 else None


def device_label(index: int | None, kind: str) -> str:
    """The device a message is about, by name: an explicit index, or the default that None stands for."""
    sd = _sd()
    default = default_device(kind) if index is None else None
    if index is None and default is None:
        return f"the default {kind} device (none available)"
    try:
        name = sd.query_devices(index if index is not None else default)["name"]
    except sd.PortAudioError:
        name = "?"
    return f"{kind} device #{index} '{name}'" if index is not None else f"the default {kind} device '{name}'"


def devices_label(input_index: int | None, output_index: int | None) -> str:
    """'input device #0 'x'' for one duplex device, else both sides named."""
    text = device_label(input_index, "input")
    if input_index is not None and input_index == output_index:
        return text.replace("input device", "device", 1)
    return f"{text} and {device_label(output_index, 'output')}"


def open_failure(input_index: int | None, output_index: int | None, samplerate: int, exc: Exception) -> str:
    """The line for a stream PortAudio would not open; on JACK the usual cause is a server that went away."""
    reason = str(exc).split(" [PaErrorCode")[0]
    try:
        apis = _sd().query_hostapis()
        on_jack = any("JACK" in apis[_sd().query_devices(i)["hostapi"]]["name"]
                      for i in (input_index, output_index) if i is not None)
    except Exception:  # noqa: BLE001 - the hint is optional
        on_jack = False
    hint = "; is the JACK server still running?" if on_jack else ""
    return f"cannot open {devices_label(input_index, output_index)} at {samplerate} Hz: {reason}{hint}"


def check_devices(input_device, output_device, samplerate: int) -> None:
    """A UserError naming the device when either side is missing or refuses the rate (cheap: opens no stream)."""
    for kind, device in (("input", input_device), ("output", output_device)):
        problem = check_rate(device, samplerate, kind)
        if problem:
            raise UserError(problem)


def _no_device(kind: str) -> str:
    return (f"{device_label(None, kind)}: PortAudio finds no {kind} device to use (no sound card, or no JACK "
            "server running); see 'comosvc devices'")


@contextlib.contextmanager
def quiet_portaudio():
    """PortAudio prints its own diagnostics to the C stderr when an open fails; our one line says it better."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def abandon_portaudio() -> None:
    """After a JACK server vanished, PortAudio can neither stop a stream nor terminate (it hangs or aborts):
    leave both to the end of the process rather than run sounddevice's exit handler."""
    sd = _sd()
    atexit.unregister(sd._exit_handler)


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
    default_in, default_out = default_device("input"), default_device("output")
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
    """None if the device accepts the rate for one channel, else a message naming the device and why not."""
    sd = _sd()
    try:
        index = resolve_device(device, kind)
    except UserError as exc:
        return str(exc)
    if index is None and default_device(kind) is None:
        return _no_device(kind)
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=index, samplerate=samplerate, channels=1, dtype="float32")
    except Exception as exc:  # noqa: BLE001 - PortAudio reports refusals in several exception types
        reason = str(exc).split(" [PaErrorCode")[0]
        try:
            usual = f"; its default rate is {sd.query_devices(index, kind)['default_samplerate']:.0f} Hz"
        except Exception:  # noqa: BLE001 - the device may be gone by now
            usual = ""
        return f"{device_label(index, kind)} refuses {samplerate} Hz ({reason}){usual}"
    return None


class SoundDeviceBackend:
    def __init__(self, input_device, output_device, samplerate: int | None, blocksize: int = 256, channels: int = 1,
                 monitor_device=None, monitor_gain_db: float = 0.0) -> None:
        self.input_device = resolve_device(input_device, "input")
        self.output_device = resolve_device(output_device, "output")
        if samplerate is None:
            sd = _sd()
            if self.input_device is None and default_device("input") is None:
                raise UserError(_no_device("input"))
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
        self._stopping = True
        monitor, self._monitor_stream = self._monitor_stream, None
        streams, self._streams = [*self._streams, *([monitor] if monitor is not None else [])], []
        if self.lost is not None:
            abandon_portaudio()  # stopping a stream whose JACK server is gone blocks forever
        elif streams:
            _close_streams(streams)
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


def _close_streams(streams: list, timeout_s: float = 2.0) -> None:
    """Stop and close streams without letting a lost device block shutdown (PortAudio's stop can hang then)."""

    def close_all() -> None:
        for stream in streams:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a lost device must not stop shutdown
                pass

    closer = threading.Thread(target=close_all, name="close-audio-streams", daemon=True)
    closer.start()
    closer.join(timeout_s)
    if closer.is_alive():
        abandon_portaudio()
