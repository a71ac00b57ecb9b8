"""End-to-end latency through the live engine: a probe plays into the engine and records its output.

The engine runs on real devices (SoundDeviceBackend) in a process of its own
(realtime.engine_process, as under `comosvc gui`), the probe on a stream of its own in this
process: in one process the probe's callback would share Python's GIL with the engine's worker
and callback, which a user's engine (`comosvc live`, `comosvc gui`) does not. `in_process` keeps
them together, for comparison. Three measurements, each a round trip seen by the probe (P = the
probe's stream):

  L    loopback     P out -> P in                          the probe's own round trip
  T_b  bypass       P out -> engine (bypass) -> P in       chirps; the dry path is an exact delay
  T_c  converted    P out -> engine (model)  -> P in       a sung phrase after silence

T - L is the engine's own input-to-output delay, device to device: what it reports
(Engine.latency_ms, callback to callback) plus what its PortAudio stream adds (on JACK one
device period, measured: a PortAudio stream that only copies its input to its output adds
exactly that). In bypass the dry path is an exact delay, so T_b - L is sample-exact. The
converted figure is read from the notes' onsets to about 3 ms, sought within 100 ms of the bypass
figure (dropped blocks can make a later note match an earlier one); a note may start up to the
SOLA search window + the silence follower's fade-in (5 ms) before the dry path's, never after it.
The onset figure (first sound to first sound) is sought anywhere.

On JACK the probe wires the ports itself (jack_connect): the streams meet in the graph and do
not pass the sound card's converters, so the latency JACK states for the system ports the
engine was connected to (capture + playback) is added as stated, not measured, to give
mic-to-ear. On a sound card the user cables probe output -> engine input and engine output ->
probe input and gives L, measured beforehand with a cable from probe output to probe input
(`--devices-only`); T - L then already holds the engine's converters, and nothing is added.

mic_to_ear_ms = (T_c - L) + hardware latency (JACK's stated capture + playback; 0 with cables).
The status bar shows Engine.latency_ms + the device latency the backend states for the engine's
stream (PortAudio's figure; on JACK + the two buffers PortAudio leaves uncounted); it is compared
with (T_b - L) + the same hardware latency.
"""

from __future__ import annotations

import threading

import numpy as np

from core.errors import UserError
from realtime.latency_probe_signals import (CLEAR_PEAK, RISES_MATCH, chirp_lag, chirp_take, onset, phrase_take,
                                            rises_lag)
from realtime.latency_probe_stream import ProbeStream

STATUS_BAR_TOLERANCE_MS = 2.0  # the bound between the latency shown and the latency measured
SETTLE_S = 1.0                 # engine running before the first take (default): its output ring fills
TAKE_TRIES = 6                 # takes repeated until one is clean (see _engine_take)
ENDED_NOTICE_S = 1.0           # after a failure: time for an engine that just ended to be noticed (devices polled)
SNAPSHOT_HZ = 5.0              # the engine process's snapshots: only its end is read from them (figures: counters())


def on_jack(*devices) -> bool:
    """Whether every device (index or None = default) is a JACK device."""
    from realtime.device_query import _sd, default_device

    sd = _sd()
    apis = [api["name"] for api in sd.query_hostapis()]
    for index, kind in zip(devices, ("input", "output", "input", "output")):
        index = default_device(kind) if index is None else index
        if index is None or "JACK" not in apis[sd.query_devices(index)["hostapi"]]:
            return False
    return True


def _ms(samples: float, rate: int) -> float:
    return 1000.0 * samples / rate


class _Wiring:
    """Connects the probe and the engine on JACK; on a sound card the cables do it, so it does nothing."""

    def __init__(self, jack: bool) -> None:
        self.jack = jack
        self._before: set[str] = set()

    def before_open(self) -> None:
        if self.jack:
            from realtime.latency_probe_jack import connections

            self._before = set(connections())

    def opened(self):
        if not self.jack:
            return None
        from realtime.latency_probe_jack import new_stream_ports

        return new_stream_ports(self._before)

    def connect(self, pairs, *streams) -> None:
        if self.jack:
            from realtime.latency_probe_jack import wire

            wire(pairs, *streams)


def check_rig(engine_devices: tuple, probe_devices: tuple, loopback_ms: float | None) -> bool:
    """Whether the probe wires itself on JACK (True) or relies on cables; a UserError where neither can work.
    Cheap: call it before a model loads."""
    from realtime.device_query import resolve_device

    devices = (resolve_device(engine_devices[0], "input"), resolve_device(engine_devices[1], "output"),
               resolve_device(probe_devices[0], "input"), resolve_device(probe_devices[1], "output"))
    if on_jack(*devices):
        from realtime.latency_probe_jack import check_jack_tools

        check_jack_tools()
        return True
    if loopback_ms is None:
        raise UserError("these are not JACK devices, so the probe cannot wire itself: cable the probe output to "
                        "the probe input, measure it with --devices-only, then cable probe output -> engine input "
                        "and engine output -> probe input and give that figure as --loopback-ms")
    return False


def measure_loopback(probe: ProbeStream) -> dict:
    played = chirp_take(probe.samplerate)
    lag, clarity = chirp_lag(played, probe.take(played), probe.samplerate)
    return {"samples": lag, "clarity": clarity}


class _EngineHere:
    """The engine in this process (in_process): what `start_engine` returns otherwise, without the child."""

    def __init__(self, spec) -> None:
        from realtime.engine_spec import build_engine

        self.engine = build_engine(spec)
        self.description = self.engine.converter.description

    def start(self) -> None:
        self.engine.start()

    def stop(self) -> None:
        self.engine.stop()

    def set_bypass(self, on: bool) -> None:
        self.engine.set_bypass(on)

    def counters(self):
        from realtime.engine_process import engine_counters

        return engine_counters(self.engine)

    def wait(self, timeout: float | None = None) -> bool:
        return self.engine.wait(timeout)

    @property
    def end_reason(self) -> str | None:
        return getattr(self.engine.backend, "lost", None)


def start_engine(spec, in_process: bool = False):
    """The engine for `spec`, built and ready to start: in a process of its own (realtime.engine_process.EngineProcess),
    or here. Both answer start, stop, set_bypass, counters(), wait(timeout), end_reason and description."""
    if in_process:
        return _EngineHere(spec)
    from realtime.engine_process import EngineProcess

    return EngineProcess(spec, snapshot_hz=SNAPSHOT_HZ)


class _EngineLoading:
    """start_engine(spec) while the probe measures its own loopback: in its own process the engine spawns, imports
    torch and loads the model meanwhile (seconds), and the thread here only waits on a pipe. In this process it is
    built at once instead: loading the model would take the GIL from the probe's callback."""

    def __init__(self, spec, in_process: bool) -> None:
        self._engine = self._error = None
        self._thread = None
        if in_process:
            self._engine = start_engine(spec, in_process=True)
        else:
            self._thread = threading.Thread(target=self._load, args=(spec,), name="engine-loading", daemon=True)
            self._thread.start()

    def _load(self, spec) -> None:
        try:
            self._engine = start_engine(spec)
        except BaseException as exc:  # noqa: BLE001 - raised where the engine is wanted
            self._error = exc

    def engine(self):
        """The engine, built (not started); its build's error raised here."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._engine

    def stop(self) -> None:
        """Stop the engine (and end its process), once built: a measurement that failed first still waits for it."""
        if self._thread is not None:
            self._thread.join()
        if self._engine is not None:
            self._engine.stop()


def _check_alive(engine, wait_s: float = 0.0) -> None:
    """A device the engine lost, or its process dying, ends the measurement with one line."""
    if engine.wait(wait_s):
        raise UserError(engine.end_reason or "the audio engine stopped during the measurement")


def _engine_take(engine, probe: ProbeStream, played: np.ndarray, what: str, came_back) -> tuple[np.ndarray, int, dict]:
    """A clean take: the engine's latency held still (it adapts), it neither dropped a block nor ran out of
    output (either moves what it plays), and `came_back(recorded)`. The probe's own xruns are reported
    (`probe_xruns`), not retaken: most leave the take exact, but one can shift it by a period. Taken again otherwise, up to TAKE_TRIES
    times; then the last take that kept the latency still, flagged as not clean.
    Returns (recorded, the engine's latency in device samples, {takes, clean, drops, xruns})."""
    for tries in range(1, TAKE_TRIES + 1):
        before, probe_before = engine.counters(), probe.xruns
        recorded = probe.take(played)
        _check_alive(engine)
        after = engine.counters()
        steady = after.latency_changes == before.latency_changes
        latency = before.latency_samples
        report = {"takes": tries, "drops": after.drops - before.drops, "xruns": after.xruns - before.xruns,
                  "probe_xruns": probe.xruns - probe_before}
        report["clean"] = steady and report["drops"] == 0 and report["xruns"] == 0 and bool(came_back(recorded))
        if report["clean"]:
            break
    if not steady:
        raise UserError(f"the engine's latency changed during each of {TAKE_TRIES} {what} takes in a row (blocks "
                        "kept arriving late: a busy machine?); try again, or a preset with a wider output margin")
    return recorded, latency, report


def measure_through_engine(spec, probe_devices: tuple, phrase: np.ndarray, loopback_ms: float | None = None,
                           settle_s: float = SETTLE_S, in_process: bool = False) -> dict:
    """The figures above, in a dict (ms unless named otherwise); see module doc for what each means.
    `spec` (realtime.engine_spec.EngineSpec) names the engine's model, preset, devices, rate and buffer."""
    samplerate, blocksize = spec.sample_rate, spec.device_block
    jack = check_rig((spec.input_device or None, spec.output_device or None), probe_devices, loopback_ms)
    probe = ProbeStream(*probe_devices, samplerate, blocksize)
    wiring = _Wiring(jack)
    loading = _EngineLoading(spec, in_process)  # its stream opens at start(), in _measure
    try:
        result = _measure(loading, spec, probe, wiring, phrase, loopback_ms, settle_s)
    finally:
        loading.stop()  # (again: stop is idempotent) and, in its own process, ends and reaps that process
    result["engine_own_process"] = not in_process
    return result


def _measure(loading: _EngineLoading, spec, probe: ProbeStream, wiring: _Wiring, phrase: np.ndarray,
             loopback_ms: float | None, settle_s: float) -> dict:
    samplerate, jack = spec.sample_rate, wiring.jack
    result: dict = {"samplerate": samplerate, "device_block": spec.device_block, "jack": jack,
                    "preset": spec.preset.name}
    wiring.before_open()
    probe.open()
    failed = True  # after a failure (the engine's device lost, say) the probe's stream may be on a dead server too
    try:
        probe_ports = wiring.opened()
        if jack:
            wiring.connect([(probe_ports.outputs[0], probe_ports.inputs[0])], probe_ports)
            loop = measure_loopback(probe)
            if loop["clarity"] < CLEAR_PEAK:
                raise UserError("no clear probe came back through the JACK loopback of the probe's own ports")
            loop_samples = loop["samples"]
            result["loopback_clarity"] = loop["clarity"]
        else:
            loop_samples = loopback_ms * samplerate / 1000.0
        result.update(loopback_measured=jack, loopback_round_trip_samples=loop_samples,
                      loopback_round_trip_ms=_ms(loop_samples, samplerate),
                      probe_reported_device_latency_ms=probe.reported_latency_ms)
        engine = loading.engine()
        result["converter"] = engine.description
        wiring.before_open()
        engine.set_bypass(True)
        engine.start()
        try:
            engine_ports = wiring.opened()
            result["hardware_latency_ms"] = _ms(_hardware_latency(engine_ports), samplerate) if jack else 0.0
            if jack:
                wiring.connect([(probe_ports.outputs[0], engine_ports.inputs[0]),
                                (engine_ports.outputs[0], probe_ports.inputs[0])], probe_ports, engine_ports)
            # the engine settles (longer lets its latency adapt first, as in a long live run), unless it ends
            _check_alive(engine, wait_s=settle_s)
            result.update(_bypass_figures(engine, probe, loop_samples))
            engine.set_bypass(False)
            bypass_lag = result["through_engine_bypass_ms"] * samplerate / 1000.0
            result.update(_converted_figures(engine, probe, loop_samples, phrase, bypass_lag))
            counters = engine.counters()
            result["device_latency_ms"] = counters.device_latency_ms
            result.update(engine_xruns=counters.xruns, probe_xruns=int(probe.xruns),
                          xruns=counters.xruns + int(probe.xruns))
            result["engine_drops"] = counters.drops
        except UserError:
            _check_alive(engine, wait_s=ENDED_NOTICE_S)  # an engine that ended explains a failure better
            raise                                       # than its consequence (its ports gone, say)
        finally:
            engine.stop()
        failed = False
    finally:
        probe.close(abandon=failed)
    _derive(result)
    return result


def _hardware_latency(ports) -> int:
    from realtime.latency_probe_jack import hardware_latency

    return hardware_latency(ports)


def _bypass_figures(engine, probe: ProbeStream, loop_samples: float) -> dict:
    rate = probe.samplerate
    played = chirp_take(rate)
    recorded, latency, take = _engine_take(engine, probe, played, "bypass",
                                           lambda got: chirp_lag(played, got, rate)[1] >= CLEAR_PEAK)
    lag, clarity = chirp_lag(played, recorded, rate)
    return {"through_engine_bypass_ms": _ms(lag, rate), "bypass_clarity": clarity,
            **{f"bypass_take_{key}": value for key, value in take.items()},
            "bypass_signal_found": clarity >= CLEAR_PEAK, "engine_reported_latency_ms": _ms(latency, rate),
            "measured_bypass_latency_ms": _ms(lag - loop_samples, rate)}


def _converted_figures(engine, probe: ProbeStream, loop_samples: float, phrase: np.ndarray,
                       bypass_lag: float) -> dict:
    rate = probe.samplerate
    played = phrase_take(phrase, rate)
    recorded, latency, take = _engine_take(engine, probe, played, "converted",
                                           lambda got: rises_lag(played, got, rate, bypass_lag)[1] > RISES_MATCH)
    lag, correlation = rises_lag(played, recorded, rate, bypass_lag)
    start_in, start_out = onset(played), onset(recorded)
    onset_ms = None if start_out is None or start_out < start_in else _ms(start_out - start_in - loop_samples, rate)
    return {"through_engine_converted_ms": _ms(lag, rate), "rises_correlation": correlation,
            **{f"converted_take_{key}": value for key, value in take.items()},
            "converted_signal_found": start_out is not None and correlation > RISES_MATCH,
            "engine_reported_converted_latency_ms": _ms(latency, rate),
            "measured_converted_latency_ms": _ms(lag - loop_samples, rate),
            "converted_onset_latency_ms": onset_ms,
            "silent_before_onset": start_out is not None and start_out >= start_in}


def _derive(result: dict) -> None:
    """The engine's figure against the measured one; what the status bar shows against the measured
    total; mic-to-ear. Old key names of `comosvc latency --json` kept with the same meaning."""
    hardware = result["hardware_latency_ms"]
    result["bypass_error_ms"] = result["measured_bypass_latency_ms"] - result["engine_reported_latency_ms"]
    result["bypass_matches_engine"] = abs(result["bypass_error_ms"]) <= STATUS_BAR_TOLERANCE_MS
    result["converted_minus_bypass_ms"] = result["measured_converted_latency_ms"] - result["measured_bypass_latency_ms"]
    result["status_bar_latency_ms"] = result["engine_reported_latency_ms"] + result["device_latency_ms"]
    result["measured_bypass_total_ms"] = result["measured_bypass_latency_ms"] + hardware
    result["status_bar_error_ms"] = result["status_bar_latency_ms"] - result["measured_bypass_total_ms"]
    result["status_bar_matches"] = abs(result["status_bar_error_ms"]) <= STATUS_BAR_TOLERANCE_MS
    result["mic_to_ear_ms"] = result["measured_converted_latency_ms"] + hardware
    result["signal_found"] = bool(result["bypass_signal_found"] and result["converted_signal_found"])
    result.update(round_trip_samples=result["loopback_round_trip_samples"],
                  round_trip_ms=result["loopback_round_trip_ms"], clarity=result["bypass_clarity"],
                  reported_device_latency_ms=result["probe_reported_device_latency_ms"],
                  engine_latency_ms=result["engine_reported_latency_ms"], total_ms=result["mic_to_ear_ms"])
