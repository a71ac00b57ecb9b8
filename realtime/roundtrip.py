"""Round-trip latency through real devices: play a probe, record it back, cross-correlate.

Needs a cable or a loopback from the output to the input. The callback only
copies slices of preallocated arrays; the analysis runs after the stream ends.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from scipy.signal import chirp, correlate

from core.errors import UserError


def probe_signal(samplerate: int, repeats: int = 3, spacing_s: float = 0.5, lead_in_s: float = 0.0) -> np.ndarray:
    """Silence for `lead_in_s`, then short log chirps (1-8 kHz, 20 ms, Hann-windowed) every `spacing_s` seconds."""
    n = int(0.02 * samplerate)
    t = np.arange(n) / samplerate
    burst = chirp(t, 1000.0, t[-1], min(8000.0, 0.4 * samplerate), method="logarithmic") * np.hanning(n) * 0.5
    lead = int(lead_in_s * samplerate)
    out = np.zeros(lead + int((repeats + 1) * spacing_s * samplerate), dtype=np.float32)
    for i in range(repeats):
        start = lead + int((i + 0.25) * spacing_s * samplerate)
        out[start:start + n] = burst
    return out


def estimate_lag(played: np.ndarray, recorded: np.ndarray, max_lag: int) -> tuple[int, float]:
    """(lag in samples, peak-to-median ratio of the cross-correlation: above ~10 means a clear peak)."""
    cc = correlate(recorded.astype(np.float64), played.astype(np.float64), mode="full", method="fft")
    zero = len(played) - 1
    window = np.abs(cc[zero:zero + max_lag + 1])
    lag = int(np.argmax(window))
    clarity = float(window[lag] / (np.median(window) + 1e-12))
    return lag, clarity


def measure_round_trip(input_device, output_device, samplerate: int, blocksize: int = 256,
                       repeats: int = 3, lead_in_s: float = 0.5) -> dict:
    """Play the probe through output -> (cable) -> input; returns lag in samples and ms, and clarity."""
    from realtime.device_query import (_sd, abandon_portaudio, check_devices, devices_label, open_failure,
                                       quiet_portaudio, resolve_device)

    sd = _sd()
    check_devices(input_device, output_device, samplerate)
    devices = (resolve_device(input_device, "input"), resolve_device(output_device, "output"))
    probe = probe_signal(samplerate, repeats, lead_in_s=lead_in_s)
    recorded = np.zeros_like(probe)
    position = [0]
    done = threading.Event()

    def callback(indata, outdata, frames, time_info, status):
        start = position[0]
        n = max(0, min(frames, len(probe) - start))
        outdata[:n, 0] = probe[start:start + n]
        outdata[n:, 0] = 0.0
        recorded[start:start + n] = indata[:n, 0]
        position[0] = start + frames
        if n < frames:
            raise sd.CallbackStop

    try:
        with quiet_portaudio():
            stream = sd.Stream(device=devices, samplerate=samplerate, blocksize=blocksize, channels=1,
                               dtype="float32", latency="low", callback=callback, finished_callback=done.set)
        stream.start()
    except sd.PortAudioError as exc:
        abandon_portaudio()  # a JACK server that vanished makes PortAudio abort at exit
        raise UserError(open_failure(*devices, samplerate, exc)) from None
    device_latency = stream.latency[0] + stream.latency[1]
    deadline = time.monotonic() + len(probe) / samplerate + 5.0
    while not done.wait(0.1) and stream.active and time.monotonic() < deadline:
        pass
    if not done.wait(0.5):  # inactive without finishing, or out of time: the device went
        abandon_portaudio()  # the stream cannot be stopped now (a JACK server gone blocks PortAudio's stop)
        raise UserError(f"{devices_label(*devices)} stopped delivering audio before the probe finished (the JACK "
                        "server stopped, or a device was unplugged)")
    stream.close()
    lag, clarity = estimate_lag(probe, recorded, max_lag=int(0.5 * samplerate))
    return {"round_trip_samples": lag, "round_trip_ms": 1000.0 * lag / samplerate, "clarity": clarity,
            "reported_device_latency_ms": 1000.0 * device_latency, "samplerate": samplerate,
            "signal_found": clarity > 10.0}
