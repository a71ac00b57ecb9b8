"""The engine in a process of its own (realtime.engine_process): real spawn, the default model, the simulator.

Spawning a child and importing torch there costs a few seconds, so each test shares one child across its
asserts."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.errors import UserError
from realtime.engine_process import EngineProcess
from realtime.engine_spec import EngineSpec
from realtime.presets import load_preset

RATE = 48000
REPO = Path(__file__).resolve().parent.parent


def _tone(hz: float = 220.0, seconds: float = 2.0) -> np.ndarray:
    """A steady sung-like tone: its pitch is known, so a transposition is easy to read back."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.2 * sum(np.sin(2 * np.pi * k * hz * t) / k for k in range(1, 6))).astype(np.float32)


def _target_f0(proxy: EngineProcess) -> float:
    """Median of the most recent voiced target F0 frames in the latest snapshot (0 if none)."""
    f0 = np.asarray(proxy.snapshot().f0_target_hz)[-30:]
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if len(voiced) > 10 else 0.0


def _wait_for(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _gone(pid: int) -> bool:
    """No such process, or only a zombie left to a reaper that is not ours (an orphan re-parented to init)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in state


def _busy_python(seconds: float) -> float:
    """Pure-Python work on this thread for `seconds`, as a window busy drawing or frozen in a handler would do."""
    start = time.perf_counter()
    total = 0
    while time.perf_counter() - start < seconds:
        for i in range(1000):
            total += i * i
    return time.perf_counter() - start


def _spec(**changes) -> EngineSpec:
    return EngineSpec(**{"preset": load_preset("balanced"), "simulate_input": _tone(), **changes})


def test_settings_reach_the_child_and_snapshots_come_back(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model")
    proxy = EngineProcess(_spec())
    try:
        assert proxy.singers and proxy.f0_methods and proxy.pid != os.getpid()
        assert not proxy.running and not proxy.snapshot().running
        proxy.start()
        assert proxy.running
        assert _wait_for(lambda: proxy.snapshot().running and len(proxy.snapshot().input_wave) > RATE // 4, 10)
        assert _wait_for(lambda: 200 < _target_f0(proxy) < 240, 10), _target_f0(proxy)  # the tone, untransposed
        first = proxy.snapshot()
        proxy.set_pitch(12.0)
        # the child's converter now aims an octave up: the target F0 it reports doubles
        assert _wait_for(lambda: 400 < _target_f0(proxy) < 480, 10), _target_f0(proxy)
        assert proxy.snapshot() is not first and proxy.snapshot().compute_ms.size > 0
        smaller = load_preset("balanced").with_changes(block_ms=20.0)
        proxy.set_preset(smaller)  # rebuilt by the child's worker without a restart
        assert _wait_for(lambda: proxy.snapshot().block_ms == pytest.approx(20.0, abs=0.5), 10)

        # a setter the window can check is refused at once, with the engine's own message
        with pytest.raises(UserError, match="unknown singer 'nobody'"):
            proxy.set_singer("nobody")
        # one only the child can check comes back as a message for the window
        proxy.set_pitch(99.0)
        assert _wait_for(lambda: proxy._errors, 5)
        assert proxy.take_errors() == ["pitch shift must be between -24 and +24 semitones, got 99"]
        assert proxy.take_errors() == []
        # the window shows the child's model's own noise scale; a scale crosses over, a bad one never leaves
        from core.convert import VoiceModel

        assert proxy.own_latent_scale == VoiceModel.load(None).generator.schedule.student_latent_scale
        with pytest.raises(UserError, match="latent scale must be a number >= 0"):
            proxy.set_latent_scale(-1.0)
        proxy.set_latent_scale(1.0)
        proxy.set_latent_scale(None)
        # a model chosen in the window is loaded by the child from the same file; a broken one is refused there
        proxy.swap_converter(SimpleNamespace(model=SimpleNamespace(path=str(bad)), device=None))
        assert _wait_for(lambda: proxy._errors, 10)
        from realtime.model_converter import make_converter

        with pytest.raises(UserError) as in_process:
            make_converter(str(bad))
        assert proxy.take_errors() == [str(in_process.value)]
        assert proxy.running  # a refused setting or model leaves the audio running
        before = proxy.snapshot()
        assert _wait_for(lambda: proxy.snapshot() is not before, 5)  # and still publishing new blocks

        pid = proxy.pid
        proxy.stop()
        assert not proxy.running and not proxy.snapshot().running
        assert _gone(pid)  # ended and reaped: no zombie
    finally:
        proxy.close()


def test_a_model_the_child_refuses_arrives_as_the_same_one_line_message(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model")
    from realtime.model_converter import make_converter

    with pytest.raises(UserError) as in_process:
        make_converter(str(bad))
    with pytest.raises(UserError) as own_process:
        EngineProcess(_spec(model=str(bad)))
    assert str(own_process.value) == str(in_process.value)
    assert "\n" not in str(own_process.value)


def test_a_refusal_that_arrives_before_the_wait_begins_is_still_the_one_line_message(tmp_path, monkeypatch):
    """The child may answer "build" before the constructor starts waiting (a model it refuses at once, on a
    fast machine): the answer must still be the error, not a lost reply."""
    import realtime.engine_process as engine_process

    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model")
    answered = threading.Event()
    set_reply = engine_process._Reply.set

    def set_and_tell(reply, ok, value):
        set_reply(reply, ok, value)
        answered.set()

    monkeypatch.setattr(engine_process._Reply, "set", set_and_tell)
    spawned = engine_process.SpawnedChild()
    send = spawned.control.send

    def send_then_let_the_answer_arrive(message):  # the constructor resumes only once the reader has the reply
        send(message)
        answered.wait(60)

    spawned.control.send = send_then_let_the_answer_arrive
    with pytest.raises(UserError) as refused:
        EngineProcess(_spec(model=str(bad)), spawned=spawned)
    assert answered.is_set() and str(bad) in str(refused.value) and "\n" not in str(refused.value)


def test_an_orphaned_child_ends_by_itself(tmp_path):
    """A window process that dies (here: SIGKILL) must not leave the audio running."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        import numpy as np
        from realtime.engine_process import EngineProcess
        from realtime.engine_spec import EngineSpec
        from realtime.presets import load_preset

        if __name__ == "__main__":
            proxy = EngineProcess(EngineSpec(load_preset("balanced"), simulate_input=np.zeros(48000, np.float32)))
            proxy.start()
            print(proxy.pid, flush=True)
            time.sleep(60)
    """))
    temp = tmp_path / "temp"  # where the child's stderr file goes (tempfile follows TMPDIR)
    temp.mkdir()
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=str(REPO),
                              env={**os.environ, "TMPDIR": str(temp)})
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        assert list(temp.glob("comosvc-engine-*.log")), "the child's stderr file was not made where expected"
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert _wait_for(lambda: _gone(child), 5), "the engine process outlived its parent"
        assert not list(temp.glob("comosvc-engine-*.log")), "the orphan left its stderr file behind"
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.parametrize("flag, in_process", [([], False), (["--engine-in-process"], True)])
def test_gui_runs_the_engine_in_its_own_process_unless_told(monkeypatch, tmp_path, flag, in_process):
    seen = {}

    def fake_screenshot(path, *args, **kwargs):
        seen.update(kwargs)
        return path

    monkeypatch.setattr("gui.app.take_screenshot", fake_screenshot)
    from cli.main import main

    assert main(["gui", "--screenshot", str(tmp_path / "s.png"), *flag]) == 0
    assert seen["engine_in_process"] is in_process


pytestqt = pytest.importorskip("pytestqt")

from tests.test_realtime_jack import jack_server  # noqa: E402,F401 - the shared JACK dummy-server fixture


def test_window_survives_a_killed_engine_and_closing_leaves_no_process(qtbot, tmp_path):
    from gui.app import _SimulatorDevices, build_window

    window = build_window(str(tmp_path / "gui.json"), _tone(), _SimulatorDevices(), own_process=True)
    qtbot.addWidget(window)
    window.show()
    controller = window.controller
    starter = controller._build_engine.starter
    spare = starter.spare_pid  # spawned with the window, importing torch before anyone presses Start
    assert spare is not None and not _gone(spare)
    try:
        window.transport.start_button.click()
        qtbot.waitUntil(lambda: controller.running, timeout=30000)
        qtbot.waitUntil(lambda: window.live.frames_drawn >= 5, timeout=10000)  # snapshots reach the plots
        first = controller.engine.pid
        assert first == spare and starter.spare_pid is None  # Start used it; none spawned while running

        os.kill(first, signal.SIGKILL)  # a crash, as the window sees it
        # the poll notices, reports and tidies up
        qtbot.waitUntil(lambda: controller.engine is None and not controller.busy, timeout=10000)
        reported = "the audio engine process ended unexpectedly (killed by SIGKILL)"
        assert any(reported in m for m in window.messages()), window.messages()
        assert _gone(first)
        assert starter.spare_pid not in (None, first)  # the next one is spawned ahead again

        window.transport.start_button.click()  # the window stays usable: Start again works
        qtbot.waitUntil(lambda: controller.running, timeout=30000)
        second = controller.engine.pid
        assert second != first
        frames = window.live.frames_drawn
        qtbot.waitUntil(lambda: window.live.frames_drawn > frames + 3, timeout=10000)

        # a window busy in Python (it holds its own GIL, and one core) does not stall the engine's process
        before = controller.engine.snapshot()
        busy_s = _busy_python(1.5)
        time.sleep(0.2)  # the snapshot published just after the busy stretch
        after = controller.engine.snapshot()
        assert len(before.compute_ms) + 0.7 * busy_s * 1000.0 / after.block_ms <= len(after.compute_ms) < 200
    finally:
        controller.shutdown()
    assert controller.engine is None
    assert _gone(second)
    assert multiprocessing.active_children() == []  # no engine, no spare: closing leaves no process


def test_a_device_the_child_refuses_is_one_message_and_leaves_no_process(qtbot):
    from gui.controller import EngineController
    from gui.engine_factory import EngineProcessBuilder
    from gui.settings import GuiSettings
    from realtime.device_query import default_device

    if default_device("input") is not None:
        pytest.skip("this machine has a sound input: the devices would open")
    built = []
    build = EngineProcessBuilder()  # the sound devices, not the simulator

    def builder(settings):
        built.append(build(settings))
        return built[-1]

    builder.close = build.close
    controller = EngineController(builder, GuiSettings())
    errors = []
    controller.error.connect(errors.append)
    controller.start()
    qtbot.waitUntil(lambda: not controller.busy, timeout=30000)
    assert not controller.running and controller.engine is None
    assert len(errors) == 1 and "input device" in errors[0] and "\n" not in errors[0], errors
    assert _gone(built[0].pid)  # built, refused at start, ended and reaped
    controller.shutdown()
    assert multiprocessing.active_children() == []  # nor a spare kept for the next Start


@pytest.mark.jack
def test_the_engine_process_runs_the_sound_devices(qtbot, tmp_path, jack_server):  # noqa: F811
    """On real PortAudio devices (a JACK dummy server): the stream opens in the child and keeps running."""
    from gui.app import build_window

    window = build_window(str(tmp_path / "gui.json"), own_process=True)
    qtbot.addWidget(window)
    apis = [window.audio.host_api.itemText(i) for i in range(window.audio.host_api.count())]
    window.audio.host_api.setCurrentText(next(a for a in apis if "JACK" in a))
    names = [window.audio.input_device.itemText(i) for i in range(1, window.audio.input_device.count())]
    window.audio.input_device.setCurrentText(names[0])
    window.audio.output_device.setCurrentText(names[0])
    window.audio.sample_rate.setCurrentText("48000")
    controller = window.controller
    try:
        window.transport.start_button.click()
        qtbot.waitUntil(lambda: controller.running or "⚠" in window.message_area.text(), timeout=30000)
        assert controller.running, window.message_area.text()
        pid = controller.engine.pid
        qtbot.waitUntil(lambda: len(controller.engine.snapshot().compute_ms) >= 25, timeout=10000)  # ~1 s of blocks
        # nobody called the stream dead while it opened; an engine too slow for this machine's load says it
        # dropped input or raised its latency, which is what those notices are for
        from realtime.engine import LOAD_NOTICES

        errors = [m for m in window.messages() if not m.startswith(LOAD_NOTICES)]
        assert controller.running and errors == [], errors
        window.transport.start_button.click()
        qtbot.waitUntil(lambda: controller.engine is None and not controller.busy, timeout=10000)
    finally:
        controller.shutdown()
    assert _gone(pid)


@pytest.mark.jack
def test_a_lost_device_is_reported_with_its_reason(monkeypatch, jack_server):  # noqa: F811
    """The JACK server goes away under a running engine process: the window learns why, and the child ends."""
    import uuid

    from tests.test_realtime_jack import start_dummy_jack

    name = f"comosvc_lost_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)  # a server of our own (spawned children inherit this)
    server = start_dummy_jack(name, dict(os.environ))
    try:
        proxy = EngineProcess(EngineSpec(load_preset("balanced"), input_device="system", output_device="system"))
        proxy.start()
        assert _wait_for(lambda: len(proxy.snapshot().compute_ms) >= 10, 10)
        assert not proxy.wait(0)
        # SIGTERM: the server goes away as abruptly for its clients, but leaves JACK's shared-memory
        # registry clean; each SIGKILLed server kept a slot there until new servers could not start.
        server.terminate()
        server.wait(10)
        assert proxy.wait(10), "the child did not notice its device go"
        assert "system" in (proxy.end_reason or "") and "\n" not in proxy.end_reason
        pid = proxy.pid
        proxy.stop()
        assert _gone(pid)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(10)


def test_a_childs_stderr_becomes_one_line_and_its_bugs_stay_visible(tmp_path, capsys):
    from realtime.engine_process import take_child_stderr

    noise = tmp_path / "engine.log"
    noise.write_text("Expression '0 == r' failed in 'src/hostapi/jack/pa_jack.c', line: 1611\n"
                     "python: pa_jack.c:1611: Assertion `err == 0' failed.\n\n")
    assert take_child_stderr(str(noise)) == "python: pa_jack.c:1611: Assertion `err == 0' failed."
    assert not noise.exists() and capsys.readouterr().err == ""  # native noise stays off the terminal
    bug = tmp_path / "bug.log"
    bug.write_text("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom\n")
    assert take_child_stderr(str(bug)) == "ValueError: boom"
    assert "ValueError: boom" in capsys.readouterr().err  # a traceback is a bug: it is passed on
    assert take_child_stderr(str(tmp_path / "gone.log")) == ""
