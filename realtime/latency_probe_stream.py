"""The probe's own stream: plays one take at a time and records what comes back, silence between takes.

The callback only copies slices of preallocated arrays and counts xruns; the caller
hands it a take (signal to play, array to record into) and polls until it has played.
Played and recorded samples share one index, so a lag found between them is the
round trip outside this stream's callback, whatever ran before the take.
"""

from __future__ import annotations

import time

import numpy as np

from core.errors import UserError

_LEFT_OPEN: list = []  # probe streams left to the end of the process (ProbeStream.close)


class ProbeStream:
    def __init__(self, input_device, output_device, samplerate: int, blocksize: int) -> None:
        from realtime.device_query import check_devices, resolve_device

        check_devices(input_device, output_device, samplerate)
        self.devices = (resolve_device(input_device, "input"), resolve_device(output_device, "output"))
        self.samplerate, self.blocksize = int(samplerate), int(blocksize)
        self.xruns = 0
        self.reported_latency_ms = 0.0
        self._take: tuple[np.ndarray, np.ndarray] | None = None
        self._position = 0
        self._stream = None

    def open(self) -> None:
        from realtime.device_query import _sd, abandon_portaudio, open_failure, quiet_portaudio

        sd = _sd()

        def callback(indata, outdata, frames, time_info, status):  # only copies
            if status.input_overflow or status.output_underflow:
                self.xruns += 1
            take = self._take
            if take is None:
                outdata.fill(0.0)
                return
            signal, recorded = take
            start = self._position
            n = max(0, min(frames, len(signal) - start))
            outdata[:n, 0] = signal[start:start + n]
            outdata[n:, 0] = 0.0
            recorded[start:start + n] = indata[:n, 0]
            self._position = start + frames

        try:
            with quiet_portaudio():
                self._stream = sd.Stream(device=self.devices, samplerate=self.samplerate, blocksize=self.blocksize,
                                         channels=1, dtype="float32", latency="low", callback=callback)
            self._stream.start()
        except sd.PortAudioError as exc:
            abandon_portaudio()  # a JACK server that vanished makes PortAudio abort at exit
            raise UserError(open_failure(*self.devices, self.samplerate, exc)) from None
        self.reported_latency_ms = 1000.0 * (self._stream.latency[0] + self._stream.latency[1])

    def take(self, signal: np.ndarray, slack_s: float = 5.0) -> np.ndarray:
        """Play `signal` once; returns what the input recorded over the same samples."""
        from realtime.device_query import abandon_portaudio, devices_label

        signal = np.ascontiguousarray(signal, dtype=np.float32)
        recorded = np.zeros_like(signal)
        self._position = 0
        self._take = (signal, recorded)
        deadline = time.monotonic() + len(signal) / self.samplerate + slack_s
        while self._position < len(signal):
            if time.monotonic() > deadline or not self._stream.active:
                self._take = None
                abandon_portaudio()  # a stream that stopped delivering cannot be stopped cleanly
                raise UserError(f"{devices_label(*self.devices)} stopped delivering audio before the probe "
                                "finished (the JACK server stopped, or a device was unplugged)")
            time.sleep(0.02)
        self._take = None
        return recorded

    def close(self, abandon: bool = False) -> None:
        """Stop and close the stream. One that is no longer active (its JACK server went away, a device was
        unplugged) or that the caller `abandon`s after a failure is left to the end of the process instead:
        PortAudio's JACK host hangs or aborts the process when it stops or closes a stream whose server is gone."""
        from realtime.device_query import abandon_portaudio, close_streams

        stream, self._stream = self._stream, None
        if stream is None:
            return
        if abandon or not stream.active:
            abandon_portaudio()
            _LEFT_OPEN.append(stream)  # still referenced: PortAudio may yet call the callback the object owns
            return
        close_streams([stream])
