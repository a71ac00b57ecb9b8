"""`comosvc latency` end to end (issue #15): a probe plays into the live engine on a JACK dummy server and
records its output; the probe's own loopback is measured and subtracted."""

import json
import time

import numpy as np
import pytest

from cli.main import main
from core.audio.silence import FADE_IN_MS
from realtime.latency_probe import TAKE_TRIES
from realtime.latency_probe_signals import RISES_MATCH
from tests.test_realtime_jack import PERIOD, RATE, jack_server  # noqa: F401 - the JACK dummy-server fixture

PERIOD_MS = 1000.0 * PERIOD / RATE
MODEL_FRAME_MS = 1000.0 * 128 / 24000  # one hop of the models' mel frames
MODEL_BUILD_UP_MS = 2 * MODEL_FRAME_MS  # how long after the dry onset a model's note may reach its loudness
# A take starts at a random phase of the engine's frame grid, and the converted voice starts on that grid:
# the first sound of 45 takes of the default model fell in clusters 5.3 ms apart, 44 of them (S58).
FRAME_PHASE_MS = MODEL_FRAME_MS
RISES_ERROR_MS = 3.0  # how far the match of the loudness rises may sit from the true delay (1 ms steps, soft onsets)


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("comosvc latency: error: "), lines
    return lines[0]


def _preset_file(tmp_path, name: str = "low-latency") -> str:
    """The preset with a wider output margin: the dummy driver without realtime scheduling runs callbacks
    up to ~0.1-0.3 s late on a busy 2-core machine; the margin keeps xruns from moving the output."""
    from realtime.presets import load_preset

    path = tmp_path / f"{name}-wide.json"
    path.write_text(json.dumps(load_preset(name).with_changes(output_margin_ms=150.0).to_dict()))
    return str(path)


def _measure(capsys, device, preset: str, *extra: str) -> dict:
    code = main(["latency", "--input", str(device), "--output", str(device), "--samplerate", str(RATE),
                 "--device-block", str(PERIOD), "--preset", preset, "--json", *extra])
    out = capsys.readouterr().out
    result = json.loads(out) if out.strip().startswith("{") else None
    # The converted phrase can be lost when the engine drops many blocks in every take (seen with the
    # model on an overloaded 2-core machine, 300 drops); a clean take must still find it.
    if code != 0 and result and result.get("converted_take_drops") and not result.get("converted_take_clean"):
        _skip_too_busy(result)
    assert code == 0, out
    return result


def _skip_too_busy(result: dict) -> None:
    pytest.skip(f"the machine was too busy for a clean take in {TAKE_TRIES} tries: {result}")


def _check_figures(result: dict, sola_search_ms: float) -> None:
    assert result["jack"] and result["loopback_measured"] and result["signal_found"]
    if not (result["bypass_take_clean"] and result["converted_take_clean"]):
        _skip_too_busy(result)
    # JACK hands a port's output to an input one cycle later, PortAudio adds its own output buffer
    assert result["loopback_round_trip_samples"] % PERIOD == 0
    _check_bypass_is_exact(result)
    # The converted voice: SOLA may take its chunk up to its search window early, and the silence follower
    # opens FADE_IN_MS before the aligned onset, so a note may start that much before the dry path; a model
    # redraws each onset, and its notes may take up to two frames to build up their loudness (one frame was
    # too tight for the default model itself), and the frame grid's phase moves them up to one frame either way.
    # Seen on one machine (safe preset): the default model -5.8 to +10.2 ms in 13 takes (S54), -10.9 to +10.3 ms
    # in 45 (S58, sd 4.6 ms) and +13.9 ms once in CI, over the bound without the frame's phase; the same model
    # with the envelope-prior vocoder -7.3 to +3.5 ms; the stand-in -11.3 to 0 ms (low-latency, busy machine).
    earliest = -sola_search_ms - FADE_IN_MS - FRAME_PHASE_MS - RISES_ERROR_MS
    latest = MODEL_BUILD_UP_MS + FRAME_PHASE_MS + RISES_ERROR_MS
    assert earliest <= result["converted_minus_bypass_ms"] <= latest
    assert result["rises_correlation"] > RISES_MATCH
    assert result["silent_before_onset"]  # the gate and the silence follower: exact zeros before the voice
    assert result["mic_to_ear_ms"] == pytest.approx(result["measured_converted_latency_ms"]
                                                    + result["hardware_latency_ms"])
    # the old keys keep their meaning: the round trip measured, the engine's latency, what a singer hears
    assert result["round_trip_ms"] == result["loopback_round_trip_ms"]
    assert result["engine_latency_ms"] == result["engine_reported_latency_ms"]
    assert result["total_ms"] == result["mic_to_ear_ms"]


def _skip_if_the_probe_shifted(result: dict) -> None:
    """An xrun of the probe's own stream can shift its recording by a period, and with it the measured
    bypass: the report says so, and nothing measured from that take is the engine's."""
    if result["bypass_take_probe_xruns"] and result["bypass_error_ms"] != pytest.approx(PERIOD_MS, abs=0.05):
        pytest.skip(f"the probe's stream had {result['bypass_take_probe_xruns']} xruns in the bypass take: {result}")


def _check_bypass_is_exact(result: dict) -> None:
    """Bypass is an exact delay: measured = the engine's stated latency + the one period PortAudio's stream
    adds on JACK (a stream that only copies its input to its output adds exactly that), to the sample."""
    _skip_if_the_probe_shifted(result)
    assert result["bypass_error_ms"] == pytest.approx(PERIOD_MS, abs=2 * 1000.0 / RATE)


def _spy_on_engines(patch, started: list, after_start=None) -> None:
    """Keeps each engine `comosvc latency` starts in `started`; `after_start(engine)` runs once it started."""
    from realtime import latency_probe

    real = latency_probe.start_engine

    def spy(spec, in_process=False):
        engine = real(spec, in_process)
        started.append(engine)
        if after_start is not None:
            start = engine.start

            def start_then():
                start()
                after_start(engine)

            engine.start = start_then
        return engine

    patch.setattr(latency_probe, "start_engine", spy)


@pytest.fixture(scope="module")
def stand_in_run(jack_server, tmp_path_factory):
    """`comosvc latency --json` once with the stand-in converter (named, since the engine's own process builds
    it), for the tests that read its figures: (result, the engines it started)."""
    import contextlib
    import io

    env, device = jack_server
    out, started = io.StringIO(), []
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        _spy_on_engines(patch, started)
        code = main(["latency", "--input", str(device), "--output", str(device), "--samplerate", str(RATE),
                     "--device-block", str(PERIOD), "--preset", _preset_file(tmp_path_factory.mktemp("preset")),
                     "--model", "stand-in", "--json"])
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue()), started


@pytest.fixture(scope="module")
def stand_in_result(stand_in_run):
    return stand_in_run[0]


@pytest.mark.jack
def test_the_engine_runs_in_a_process_of_its_own_and_ends_with_the_command(stand_in_run):
    """Issue #15's figures are what a user gets only if the engine does not share the probe's GIL."""
    import os

    from tests.test_gui_engine_process import _gone

    result, started = stand_in_run
    assert result["engine_own_process"] and len(started) == 1
    pid = started[0].pid
    assert pid is not None and pid != os.getpid()
    assert _gone(pid)  # ended and reaped once the command returned


@pytest.mark.jack
def test_an_engine_process_that_dies_is_one_line_and_leaves_nothing(jack_server, capsys, tmp_path):
    import os
    import signal

    from tests.test_gui_engine_process import _gone

    env, device = jack_server
    started = []
    with pytest.MonkeyPatch.context() as patch:
        _spy_on_engines(patch, started, after_start=lambda engine: os.kill(engine.pid, signal.SIGKILL))
        code = main(["latency", "--input", str(device), "--output", str(device), "--samplerate", str(RATE),
                     "--device-block", str(PERIOD), "--preset", _preset_file(tmp_path), "--model", "stand-in",
                     "--settle", "0.5"])
    assert code == 2
    assert "the audio engine process ended unexpectedly (killed by SIGKILL)" in _one_error_line(capsys)
    assert _gone(started[0].pid)


@pytest.mark.jack
def test_stand_in_through_the_engine_matches_its_stated_latency(stand_in_result):
    from realtime.presets import load_preset
    from realtime.standin import StandInConverter

    assert stand_in_result["converter"] == StandInConverter.description
    _check_figures(stand_in_result, load_preset("low-latency").sola_search_ms)
    # JACK's dummy driver states 256 frames of capture and 512 of playback latency for its system ports
    assert stand_in_result["hardware_latency_ms"] == pytest.approx(3 * PERIOD_MS)


@pytest.mark.jack
def test_default_model_through_the_engine(jack_server, capsys, tmp_path, monkeypatch):
    from realtime.presets import load_preset

    env, device = jack_server
    # one torch thread in the engine's process (it inherits the variable): two, on two cores another job also
    # uses, doubled the live compute (low-latency: p50 12.7 -> 20 ms of a 20 ms block) and the engine dropped
    # most blocks, with no clean take in 6 tries
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # The safe preset (100 ms blocks): on 2 cores with one thread the model keeps up and the first take is
    # clean (~14 s, also with another core busy). With low-latency (20 ms) or balanced (40 ms, FCPE) it
    # dropped blocks in all 6 takes and the test could only skip after ~45 s.
    start = time.monotonic()
    result = _measure(capsys, device, _preset_file(tmp_path, "safe"))
    assert result["converter"].startswith("model default")
    _check_figures(result, load_preset("safe").sola_search_ms)
    assert time.monotonic() - start < 40


@pytest.mark.jack
def test_status_bar_shows_the_measured_latency(stand_in_result):
    """Issue #15: what the status bar shows (the engine's latency + the device latency the backend states)
    equals the measured total within 2 ms. On JACK the backend adds the two buffers PortAudio leaves out
    of its figure; without them this was off by exactly two periods."""
    _skip_if_the_probe_shifted(stand_in_result)  # the measured total is then a period off, not the status bar
    assert abs(stand_in_result["status_bar_error_ms"]) <= 2.0
    assert stand_in_result["status_bar_matches"]


@pytest.mark.jack
def test_text_report_says_what_was_measured_and_subtracted(stand_in_result):
    from cli.commands.latency import describe

    text = "\n".join(describe(stand_in_result))
    assert "loopback (probe output -> probe input, JACK" in text and "subtracted" in text
    assert f"{stand_in_result['loopback_round_trip_ms']:.1f} ms" in text
    assert "added, not measured" in text and f"{stand_in_result['mic_to_ear_ms']:.1f} ms" in text
    assert "mic-to-ear (the converted figure + the sound card)" in text and "the status bar shows" in text


@pytest.mark.jack
def test_missing_probe_device_is_one_line(jack_server, capsys):
    env, device = jack_server
    assert main(["latency", "--input", str(device), "--output", str(device), "--probe-input", "no-such-mic"]) == 2
    assert "no input device matches 'no-such-mic'" in _one_error_line(capsys)


@pytest.mark.jack
def test_missing_jack_tools_is_one_line_before_the_model_loads(jack_server, capsys, monkeypatch):
    import shutil

    env, device = jack_server
    real_which = shutil.which
    monkeypatch.setattr("realtime.latency_probe_jack.shutil.which",
                        lambda name: None if name == "jack_connect" else real_which(name))
    monkeypatch.setattr("realtime.latency_probe.start_engine",
                        lambda *a, **k: pytest.fail("the engine started loading before the rig was checked"))
    assert main(["latency", "--input", str(device), "--output", str(device)]) == 2
    line = _one_error_line(capsys)
    assert "jack_connect not found" in line and "jackd2" in line


def _children(pid: int) -> list[int]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass  # ended meanwhile
    return found


@pytest.mark.jack
def test_a_jack_server_that_goes_away_is_one_line_and_leaves_nothing(tmp_path):
    """The engine's device vanishes mid-measurement (its process notices): one line, exit 2, no engine process left,
    and no hang on the probe's stream, whose server is gone too. In a command of its own: PortAudio cannot be
    shut down cleanly after that, and this process goes on using it."""
    import os
    import subprocess
    import sys
    import uuid

    from tests.test_gui_engine_process import _gone
    from tests.test_realtime_jack import start_dummy_jack

    name = f"comosvc_gone_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name)
    server = start_dummy_jack(name, env)
    command = subprocess.Popen([sys.executable, "-m", "cli.main", "latency", "--input", "system", "--output", "system",
                                "--model", "stand-in", "--settle", "30"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline, engines = time.monotonic() + 30, []
        while time.monotonic() < deadline and command.poll() is None:  # until the engine's stream has opened
            ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True, timeout=10).stdout
            engines = _children(command.pid)
            if ports.count(":in_") >= 2:
                break
            time.sleep(0.2)
        assert engines and command.poll() is None, command.communicate()
        server.terminate()  # SIGTERM: a SIGKILLed server leaks a slot in JACK's shared-memory registry
        server.wait(10)
        out, err = command.communicate(timeout=30)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait(10)
        if server.poll() is None:
            server.terminate()
            server.wait(10)
    assert command.returncode == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("comosvc latency: error: "), lines
    # PortAudio calls the stream inactive, or the stall watch notices first: either names the device. The server
    # may also go before the probe's own stream opens, or the engine's PortAudio may assert first while closing
    # its stream on the dead server: each of those lines says so. Now and then (2 of 7 runs on 2026-12-02; the old
    # code failed this file once in 6 too) the engine's process aborts without a word on its stderr to say where: the line
    # can only say how it ended.
    line = lines[0]
    assert ("'system'" in line and any(words in line for words in ("stopped delivering audio", "delivered no audio",
                                                                    "is the JACK server still running"))
            or "the JACK server went away under the audio engine" in line
            or line.endswith("the audio engine process ended unexpectedly (killed by SIGABRT)")), lines
    # the engine's process is reaped before the command exits; multiprocessing's resource tracker (a child too)
    # ends once it sees the command gone, a moment later
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in engines) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in engines if not _gone(pid)]
    assert not left, [open(f"/proc/{pid}/cmdline").read().replace("\0", " ") for pid in left]


@pytest.mark.jack
def test_ports_that_do_not_exist_are_one_line(jack_server):
    from core.errors import UserError
    from realtime.latency_probe_jack import wire

    with pytest.raises(UserError, match=r"jack_connect nobody:out_0 nobody:in_0 failed") as error:
        wire([("nobody:out_0", "nobody:in_0")])
    assert "\n" not in str(error.value)


@pytest.mark.jack
def test_devices_off_jack_need_the_loopback_figure(jack_server, capsys, monkeypatch):
    env, device = jack_server
    monkeypatch.setattr("realtime.latency_probe.on_jack", lambda *devices: False)
    assert main(["latency", "--input", str(device), "--output", str(device)]) == 2
    assert "--loopback-ms" in _one_error_line(capsys)


def _cable_when_engine_opens(before: set, stop):
    """What a user's cables do: probe output -> engine input, engine output -> probe input. The new ports are
    the probe's stream's and the engine's (in its own process: another JACK client, e.g. PortAudio-01:in_0).
    Sorted by client, ins and outs pair up by stream; a cable each way makes the same graph whichever is which."""
    from core.errors import UserError
    from realtime.latency_probe_jack import StreamPorts, connections, wire

    def by_client(port):
        client, name = port.split(":", 1)
        return client, int(name.rsplit("_", 1)[1])

    while not stop.is_set():
        time.sleep(0.1)  # each jack_lsp is a JACK client too: polling faster only loads the server
        try:
            new = sorted(set(connections()) - before, key=by_client)
        except UserError:  # a stalled server on a loaded machine: the cables are made on the next look
            continue
        ins, outs = [p for p in new if ":in_" in p], [p for p in new if ":out_" in p]
        if len(ins) == 2 and len(outs) == 2:
            probe, engine = StreamPorts((ins[0],), (outs[0],)), StreamPorts((ins[1],), (outs[1],))
            wire([(outs[0], ins[1]), (outs[1], ins[0])], probe, engine)
            return


@pytest.mark.slow  # ~17 s of real takes; the JACK-wired takes above check the same exact bypass figure
@pytest.mark.jack
def test_cabled_rig_subtracts_the_loopback_it_is_given(jack_server, capsys, tmp_path, monkeypatch):
    """Off JACK the probe cannot wire itself: the user cables it and gives the loopback; nothing is added."""
    import threading

    env, device = jack_server
    monkeypatch.setattr("realtime.latency_probe.on_jack", lambda *devices: False)
    from realtime.latency_probe_jack import connections

    stop = threading.Event()
    cabler = threading.Thread(target=_cable_when_engine_opens, args=(set(connections()), stop), daemon=True)
    cabler.start()
    try:
        result = _measure(capsys, device, _preset_file(tmp_path), "--loopback-ms", f"{2 * PERIOD_MS}",
                          "--model", "stand-in")
    finally:
        stop.set()
    assert not result["jack"] and not result["loopback_measured"]
    assert result["loopback_round_trip_ms"] == pytest.approx(2 * PERIOD_MS)
    assert result["hardware_latency_ms"] == 0.0 and result["mic_to_ear_ms"] == result["measured_converted_latency_ms"]
    # the same graph as the JACK-wired test: the same exact bypass figure, and the same allowance for a slip
    # of the probe's own stream (two periods were seen once on a loaded machine)
    _check_bypass_is_exact(result)


# --- no device needed -------------------------------------------------------------------------------------


def test_silent_phrase_is_one_line(tmp_path, capsys):
    import soundfile as sf

    path = tmp_path / "quiet.wav"
    sf.write(path, np.full(RATE, 1e-4, dtype=np.float32), RATE)
    assert main(["latency", "--phrase", str(path)]) == 2
    assert "too quiet" in _one_error_line(capsys)


def test_a_stalled_jack_tool_is_asked_again_then_named(monkeypatch):
    import subprocess

    from core.errors import UserError
    from realtime import latency_probe_jack

    calls = []

    def stalls_twice(argv, **kwargs):
        calls.append(argv)
        if len(calls) <= 2:
            raise subprocess.TimeoutExpired(argv, kwargs["timeout"])
        return subprocess.CompletedProcess(argv, 0, "system:capture_1\n", "")

    monkeypatch.setattr(latency_probe_jack.subprocess, "run", stalls_twice)
    assert latency_probe_jack.connections() == {"system:capture_1": []} and len(calls) == 3

    def always_stalls(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    monkeypatch.setattr(latency_probe_jack.subprocess, "run", always_stalls)
    with pytest.raises(UserError, match="jack_lsp did not answer") as error:
        latency_probe_jack.connections()
    assert "\n" not in str(error.value)


def test_devices_only_refuses_the_engine_options(capsys):
    for option in (["--loopback-ms", "10"], ["--settle", "5"]):
        assert main(["latency", "--devices-only", *option]) == 2
        assert "--devices-only measures the devices alone" in _one_error_line(capsys)


def test_out_of_range_options_are_one_line(capsys):
    for option, words in ((["--settle", "1000"], "--settle must be between 0 and 600 seconds"),
                          (["--loopback-ms", "-1"], "--loopback-ms must be between 0 and 1000 ms")):
        assert main(["latency", *option]) == 2
        assert words in _one_error_line(capsys)


def test_rises_lag_finds_a_delay_through_a_changed_timbre():
    """The converted path redraws the waveform; its loudness still follows the phrase."""
    from scipy.signal import lfilter

    from realtime.latency_probe_signals import rises_lag, phrase_take, synthetic_phrase

    played = phrase_take(synthetic_phrase(RATE), RATE)
    delay = 3333
    # another timbre: a resonant filter and a soft saturation, then the delay
    voiced = np.tanh(3 * lfilter([1.0], [1.0, -1.6, 0.8], played)) * 0.3
    recorded = np.concatenate([np.zeros(delay), voiced[:-delay]])
    lag, correlation = rises_lag(played, recorded, RATE)
    assert abs(lag - delay) <= RISES_ERROR_MS * RATE / 1000 / 3
    assert correlation > 0.5


def test_onset_is_the_first_sample_above_silence():
    from realtime.latency_probe_signals import onset

    audio = np.zeros(1000, dtype=np.float32)
    assert onset(audio) is None
    audio[700] = 1e-3
    audio[800] = 0.5
    assert onset(audio) == 700
