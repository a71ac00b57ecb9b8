"""The window on real PortAudio devices: a JACK dummy server, chosen through the audio panel."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from tests.test_realtime_jack import jack_server  # noqa: E402,F401 - the shared JACK dummy-server fixture

pytestmark = pytest.mark.jack


def test_start_stop_on_the_jack_dummy_server(qtbot, tmp_path, jack_server):  # noqa: F811
    from gui.app import build_window

    window = build_window(str(tmp_path / "gui.json"))
    qtbot.addWidget(window)
    apis = [window.audio.host_api.itemText(i) for i in range(window.audio.host_api.count())]
    jack_api = next(a for a in apis if "JACK" in a)
    window.audio.host_api.setCurrentText(jack_api)
    names = [window.audio.input_device.itemText(i) for i in range(1, window.audio.input_device.count())]
    assert names, "no JACK devices listed"
    window.audio.input_device.setCurrentText(names[0])
    window.audio.output_device.setCurrentText(names[0])
    window.audio.sample_rate.setCurrentText("48000")
    assert "accepted" in window.audio.rate_status.text()
    window.transport.start_button.click()
    qtbot.waitUntil(lambda: window.controller.running or "⚠" in window.message_area.text(), timeout=10000)
    assert window.controller.running, window.message_area.text()
    qtbot.waitUntil(lambda: window.live.frames_drawn >= 5, timeout=10000)
    window.transport.start_button.click()
    qtbot.waitUntil(lambda: not window.controller.running and not window.controller.busy, timeout=10000)
    assert window.controller.engine is None
