"""Real PortAudio callbacks on a JACK dummy server: the engine streams without xruns, and the latency tool
measures a loopback round trip (jack_connect of our output to our input)."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import numpy as np
import pytest
from scipy.signal import correlate

from tests.jack_shm import clear_stale_jack_registry

pytestmark = pytest.mark.jack

RATE, PERIOD = 48000, 256


def _jack(cmd: list[str], env) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=10)


def start_dummy_jack(name: str, env: dict, attempts: int = 3) -> subprocess.Popen:
    """Start a JACK dummy server called `name` and wait until it answers; skip the test if it cannot run.

    A server that exits at once is started again, after clearing a stale registry where no other
    server runs; the skip names jackd's last words.
    """
    said = "(nothing)"
    for _ in range(attempts):
        with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: a server's late writes never block
            server = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(RATE), "-p",
                                       str(PERIOD)], env=env, stdout=subprocess.DEVNULL, stderr=log)
            for _ in range(100):
                if server.poll() is not None:
                    log.seek(0)
                    said = (log.read().strip().splitlines() or [said])[-1]
                    break
                if _jack(["jack_lsp"], env).returncode == 0:
                    return server
                time.sleep(0.05)
            else:
                return server  # still starting after 5 s: let the test find out
        clear_stale_jack_registry()
        time.sleep(0.5)
    pytest.skip(f"jackd could not start here ({said})")


@pytest.fixture(scope="module")
def jack_server():
    if not shutil.which("jackd") or not shutil.which("jack_connect"):
        pytest.skip("jackd is not installed")
    name = f"comosvc_test_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name)
    server = start_dummy_jack(name, env)
    try:
        previous = os.environ.get("JACK_DEFAULT_SERVER")
        os.environ["JACK_DEFAULT_SERVER"] = name
        import sounddevice as sd
        sd._terminate()  # PortAudio lists host APIs when initialised: re-initialise to see this server
        sd._initialize()
        apis = [api["name"] for api in sd.query_hostapis()]
        if not any("JACK" in a for a in apis):
            pytest.skip(f"PortAudio was built without JACK (host APIs: {apis})")
        jack_index = next(i for i, d in enumerate(sd.query_devices())
                          if "JACK" in apis[d["hostapi"]] and d["max_input_channels"] > 0)
        yield env, jack_index
    finally:
        import sounddevice as sd
        sd._terminate()  # let PortAudio leave the server before it goes (the other order aborts)
        server.terminate()
        server.wait(timeout=10)
        if "previous" in locals():
            if previous is None:
                os.environ.pop("JACK_DEFAULT_SERVER", None)
            else:
                os.environ["JACK_DEFAULT_SERVER"] = previous
        sd._initialize()


def _loopback_when_ready(env):
    """Connect our PortAudio client's output to its input as soon as its ports exist."""
    for _ in range(200):
        ports = _jack(["jack_lsp"], env).stdout.split()
        ins = [p for p in ports if p.startswith("PortAudio") and ":in" in p]
        outs = [p for p in ports if p.startswith("PortAudio") and ":out" in p]
        if ins and outs:
            for capture in [p for p in ports if p.startswith("system:capture")]:
                _jack(["jack_disconnect", capture, ins[0]], env)
            _jack(["jack_connect", outs[0], ins[0]], env)
            return
        time.sleep(0.02)


def test_engine_streams_on_jack_without_xruns_at_its_latency(jack_server):
    from realtime.devices import SoundDeviceBackend
    from realtime.engine import Engine
    from realtime.presets import load_preset
    from realtime.standin import StandInConverter

    env, device = jack_server
    seconds = 4.0
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    probe = (0.3 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 1.3 * t) > 0)).astype(np.float32)
    played = np.zeros(n + 8 * RATE, dtype=np.float32)
    position = [0]
    backend = SoundDeviceBackend(device, device, RATE, blocksize=PERIOD)
    # the dummy driver without realtime scheduling runs callbacks up to ~0.1-0.3 s late on a busy
    # 2-core machine: a wide output margin keeps this a test of the plumbing, not of the CI load
    preset = load_preset("safe").with_changes(output_margin_ms=400.0)
    engine = Engine(StandInConverter(), preset, backend)
    engine.set_bypass(True)  # exact path: the measured delay must be the engine's stated latency
    real_io = engine.device_io

    def io_with_probe(inp, out):  # replaces the dummy driver's silent capture with the probe, records output
        start = position[0]
        k = len(inp) or len(out)
        src = probe[start:start + k] if start + k <= n else np.zeros(k, dtype=np.float32)
        real_io(src, out)
        played[start:start + len(out)] = out
        position[0] = start + k

    engine.device_io = io_with_probe
    engine.start()
    initial_latency = engine.latency_samples
    deadline = time.monotonic() + seconds + 10
    while position[0] < n + RATE // 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.stop()
    assert position[0] >= n, "JACK delivered too few callbacks"
    assert engine.xruns == 0
    # The latency adapts (at the earliest after 4 s of comfortable running); the probe must come out
    # exactly at the latency in effect while it played: the first one, unless it changed within the probe.
    changed_during_probe = [c for c in engine.latency_changes if c.at_s < seconds]
    expected = initial_latency if not changed_during_probe else None
    cc = correlate(played[:position[0]], probe, mode="full", method="fft")
    lag = int(np.argmax(cc)) - (n - 1)
    if expected is None:  # a busy machine made it change mid-probe: the lag is one of the stated latencies
        stated = {initial_latency} | {round(c.latency_ms * RATE / 1000) for c in changed_during_probe}
        assert min(abs(lag - s) for s in stated) <= 1
    else:
        assert lag == expected


def test_latency_tool_measures_the_loopback(jack_server, capsys):
    from cli.main import main

    env, device = jack_server
    connector = threading.Thread(target=_loopback_when_ready, args=(env,), daemon=True)
    connector.start()
    code = main(["latency", "--input", str(device), "--output", str(device), "--samplerate", str(RATE),
                 "--device-block", str(PERIOD), "--lead-in", "1.0", "--preset", "low-latency", "--devices-only",
                 "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["signal_found"]
    # JACK hands a port's output to a connected input one cycle later; PortAudio adds its own buffer
    assert result["round_trip_samples"] % PERIOD == 0
    assert result["round_trip_ms"] == pytest.approx(result["reported_device_latency_ms"], abs=1000 * PERIOD / RATE)
    assert result["total_ms"] == pytest.approx(result["round_trip_ms"] + result["engine_latency_ms"])


def test_live_command_runs_on_jack(jack_server, capsys, tmp_path):
    from cli.main import main
    from realtime.presets import load_preset

    env, device = jack_server
    preset = tmp_path / "wide.json"
    preset.write_text(json.dumps(load_preset("safe").with_changes(output_margin_ms=400.0).to_dict()))
    code = main(["live", "--input", str(device), "--output", str(device), "--samplerate", str(RATE),
                 "--device-block", str(PERIOD), "--preset", str(preset), "--duration", "2", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["xruns"] == 0
    assert result["converter"].startswith("model default")  # the shipped default model, live on JACK
    assert 0 <= result["callback_lateness_p50_ms"] <= result["callback_lateness_p99_ms"]


def test_monitor_output_plays_the_converted_output_at_its_gain(jack_server):
    from realtime.devices import SoundDeviceBackend
    from realtime.engine import Engine
    from realtime.presets import load_preset
    from realtime.standin import StandInConverter

    env, device = jack_server
    backend = SoundDeviceBackend(device, device, RATE, blocksize=PERIOD, monitor_device=device, monitor_gain_db=-6.0)
    engine = Engine(StandInConverter(), load_preset("safe").with_changes(output_margin_ms=400.0), backend)
    engine.set_bypass(True)
    t = np.arange(RATE * 3) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    position = [0]
    main_out, monitor_out = [], []
    real_io = engine.device_io

    def io_with_tone(inp, out):
        k = len(inp) or len(out)
        start = position[0] % len(tone)
        src = np.resize(tone[start:start + k], k)
        real_io(src, out)
        main_out.append(out.copy())
        position[0] += k

    engine.device_io = io_with_tone
    engine.start()
    try:
        deadline = time.monotonic() + 12
        while engine.monitor is None or engine.monitor.ring.read < RATE and time.monotonic() < deadline:
            time.sleep(0.05)
        tap = engine.monitor
        assert tap is not None, f"monitor not started: {engine.snapshot().messages}"
        # What the monitor device is handed: collect it by wrapping the tap's callback side.
        real_tap_io = tap.device_io

        def record(out):
            real_tap_io(out)
            monitor_out.append(out.copy())

        tap.device_io = record
        time.sleep(1.0)
    finally:
        engine.stop()
    assert tap.ring.read >= RATE // 2  # the monitor's own callbacks pulled audio
    heard = np.concatenate(monitor_out)
    played = np.concatenate(main_out)
    peak_main = np.max(np.abs(played[-RATE // 2:]))
    assert peak_main > 0.2
    assert np.max(np.abs(heard)) == pytest.approx(peak_main * 10 ** (-6 / 20), rel=0.05)
