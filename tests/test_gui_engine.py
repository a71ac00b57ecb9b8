"""The window driving the real realtime.Engine on the simulator: start/stop, a responsive GUI thread, live plots."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6.QtCore import QTimer  # noqa: E402

from gui.app import _SimulatorDevices, build_window  # noqa: E402
from gui.engine_factory import demo_input  # noqa: E402


@pytest.fixture
def sim_window(qtbot, tmp_path):
    window = build_window(str(tmp_path / "gui.json"), demo_input(48000, 2.0), _SimulatorDevices())
    qtbot.addWidget(window)
    window.show()
    yield window
    window.controller.shutdown()


def test_start_stop_on_the_simulator_with_live_snapshots(qtbot, sim_window):
    window = sim_window
    window.transport.start_button.click()
    qtbot.waitUntil(lambda: window.controller.running, timeout=10000)
    assert window.transport.start_button.text().endswith("Stop")
    qtbot.waitUntil(lambda: window.live.frames_drawn >= 5, timeout=10000)
    snap = window.controller.engine.snapshot()
    assert snap.running and len(snap.input_wave) > 0 and snap.latency_ms > 0
    window.voice.pitch.setValue(12.0)  # the real engine accepts the control while running
    assert window.controller.engine._pitch == pytest.approx(12.0)
    block_before = window.controller.engine.snapshot().block_ms
    window.performance.preset.setCurrentText("safe" if block_before < 60 else "low-latency")
    wanted = window.performance.advanced["block_ms"].value()
    assert wanted != pytest.approx(block_before)
    qtbot.waitUntil(lambda: window.controller.engine.snapshot().block_ms == pytest.approx(wanted, abs=0.5),
                    timeout=10000)  # the running engine switched block size without a restart
    window.transport.start_button.click()
    qtbot.waitUntil(lambda: not window.controller.running and not window.controller.busy, timeout=10000)
    assert window.controller.engine is None and window.state_label.text() == "stopped"


def _timer_lateness_ms(qtbot, duration_ms: int) -> list[float]:
    """How late a 10 ms QTimer fires, tick by tick: the GUI event loop's latency."""
    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append((now - last[0]) * 1000.0 - 10.0)
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    qtbot.wait(duration_ms)
    timer.stop()
    return lateness[1:]


def test_gui_thread_stays_responsive_while_the_engine_runs(qtbot, sim_window):
    """The running engine (worker, snapshots, live view) must not add 50 ms to the event loop's latency.

    The same window's idle latency is measured first, so other load on a shared machine is not blamed
    on the engine."""
    window = sim_window
    idle = _timer_lateness_ms(qtbot, 500)
    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.running, timeout=10000)
    frames_before = window.live.frames_drawn
    busy = _timer_lateness_ms(qtbot, 1500)
    assert window.live.frames_drawn - frames_before > 10  # the live view really was drawing meanwhile
    assert len(busy) > 30
    idle_p90 = float(np.percentile(idle, 90))
    assert float(np.percentile(busy, 90)) < 50.0 + max(idle_p90, 0.0)
    assert float(np.median(busy)) < 50.0


def test_output_f0_curve_follows_the_target(qtbot, sim_window):
    window = sim_window
    # The safe preset (100 ms blocks) keeps up on a loaded 2-core machine. With balanced, a CI run that was
    # ~15 % slower than usual saw too few voiced output frames in 20 s: an engine that drops blocks plays
    # broken notes, and the curve rightly shows little pitch.
    window.performance.preset.setCurrentText("safe")
    window.transport.start_button.click()
    qtbot.waitUntil(lambda: window.controller.running, timeout=10000)

    def voiced_output():
        _, y = window.live.f0_out_curve.getOriginalDataset()
        return y is not None and np.isfinite(y).sum() > 50

    from realtime.presets import load_preset

    # No pitch tracker chosen: the engine runs the one the preset names.
    assert window.controller.settings.preset == "safe"
    assert window.controller.engine._f0_method == load_preset("safe").f0_method
    qtbot.waitUntil(voiced_output, timeout=30000)
    snap = window.controller.engine.snapshot()
    _, out = window.live.f0_out_curve.getOriginalDataset()
    target = np.asarray(snap.f0_target_hz, dtype=np.float64)
    both = np.isfinite(out) & (target > 0)
    assert both.sum() > 30
    cents = 1200 * np.abs(np.log2(out[both] / target[both]))
    assert np.median(cents) < 50.0


def test_output_f0_measure_on_a_tone():
    from gui.output_f0 import output_f0

    t = np.arange(48000) / 24000
    tone = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    f0 = output_f0(tone, 24000, 375)
    assert len(f0) == 375
    voiced = f0[20:-5] > 0
    assert voiced.mean() > 0.9
    assert np.median(np.abs(1200 * np.log2(f0[20:-5][voiced] / 300))) < 10
    assert not output_f0(np.zeros(48000, np.float32), 24000, 375).any()
