"""The window against a recording fake engine: controls reach the engine, errors show, shortcuts work."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt  # noqa: E402

from gui.controller import EngineController, ModelLoader  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.settings import GuiSettings, SettingsStore  # noqa: E402
from tests.gui_fakes import FakeDevices, FakeEngine  # noqa: E402


def _failing_loader(path: str):
    """The stand-in ("") loads; every model file fails."""
    from core.errors import UserError

    if not path:
        return type("StandIn", (), {"singers": ["alto", "tenor"], "description": "fake stand-in"})()
    raise UserError(f"{path} is not a model file")


@pytest.fixture
def window_and_engine(qtbot, tmp_path, monkeypatch):
    # These tests drive the stand-in and failing model files; hide the shipped default model.
    monkeypatch.setattr("core.models.default_model_path", lambda: None)
    monkeypatch.setattr("core.models.list_models", lambda: ([], []))
    engine = FakeEngine()
    controller = EngineController(lambda settings: engine, GuiSettings())
    window = MainWindow(controller, SettingsStore(tmp_path / "gui.json"), ModelLoader(_failing_loader),
                        device_source=FakeDevices())
    qtbot.addWidget(window)
    window.show()
    yield window, engine
    controller.shutdown()


def _start(qtbot, window) -> None:
    window.transport.start_button.click()
    qtbot.waitUntil(lambda: window.controller.running, timeout=3000)


def test_window_builds_with_every_panel(qtbot, window_and_engine):
    window, _ = window_and_engine
    qtbot.waitUntil(lambda: window.voice.singer.count() == 2, timeout=3000)  # singers known before Start
    assert window.message_area.text() == ""
    assert window.audio.host_api.count() == 2
    assert window.audio.input_device.findText("USB interface") >= 0
    assert window.voice.pitch.minimum() == -24 and window.voice.pitch.maximum() == 24
    assert window.voice.pitch.singleStep() == pytest.approx(0.1)
    assert window.performance.preset.findText("balanced") >= 0
    for button, key in ((window.transport.start_button, "Space"), (window.transport.bypass_button, "B"),
                        (window.transport.record_button, "R")):
        assert f"({key})" in button.toolTip()


def test_singer_pitch_gate_and_gains_reach_the_running_engine(qtbot, window_and_engine):
    window, engine = window_and_engine
    _start(qtbot, window)
    assert window.voice.singer.findText("tenor") >= 0  # the engine's singers were listed
    window.voice.singer.setCurrentText("tenor")
    window.voice.pitch.setValue(3.7)
    window.performance.gate.setValue(-42)
    window.performance.input_gain.setValue(4.5)
    window.performance.output_gain.setValue(-3.0)
    window.voice.auto_transpose.setChecked(True)
    window.voice.f0_method.setCurrentText("harvest")
    window.transport.bypass_button.click()
    assert engine.last("singer") == "tenor"
    assert engine.last("pitch") == pytest.approx(3.7)
    assert window.voice.pitch_slider.value() == 37
    assert engine.last("gate") == -42
    assert engine.last("input_gain") == 4.5 and engine.last("output_gain") == -3.0
    assert engine.last("auto_transpose") is True and engine.last("f0_method") == "harvest"
    assert engine.last("bypass") is True


def test_settings_made_while_stopped_are_applied_at_start(qtbot, window_and_engine):
    window, engine = window_and_engine
    window.voice.pitch.setValue(-5.0)
    window.performance.gate.setValue(-30)
    assert engine.calls == []
    _start(qtbot, window)
    assert engine.last("pitch") == pytest.approx(-5.0) and engine.last("gate") == -30


def test_keyboard_shortcuts_move_pitch_and_toggle_start(qtbot, window_and_engine):
    window, engine = window_and_engine
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.controller.running, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_Up)
    qtbot.keyClick(window, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    assert window.voice.pitch.value() == pytest.approx(13.0)
    assert engine.last("pitch") == pytest.approx(13.0)
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert engine.last("bypass") is True
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.controller.running and not window.controller.busy, timeout=3000)
    assert not engine.running


def test_snapshots_update_the_status_bar_and_meters(qtbot, window_and_engine):
    window, _ = window_and_engine
    _start(qtbot, window)
    qtbot.waitUntil(lambda: window.live.frames_drawn >= 3, timeout=3000)
    assert "95" in window.latency_label.text()
    assert window.performance.input_meter.level_db == pytest.approx(-20.0)


def test_start_error_shows_in_the_window_and_it_stays_usable(qtbot, tmp_path):
    attempts = []

    def builder(settings):
        attempts.append(settings)
        return FakeEngine(start_error="output device refuses 44100 Hz" if len(attempts) == 1 else None)

    controller = EngineController(builder, GuiSettings())
    window = MainWindow(controller, SettingsStore(tmp_path / "gui.json"), ModelLoader(_failing_loader),
                        device_source=FakeDevices())
    qtbot.addWidget(window)
    window.transport.start_button.click()
    qtbot.waitUntil(lambda: "refuses 44100" in window.message_area.text(), timeout=3000)
    qtbot.waitUntil(lambda: not controller.busy, timeout=3000)
    assert not controller.running and not window.transport.start_button.isChecked()
    window.transport.start_button.click()  # second try works
    qtbot.waitUntil(lambda: controller.running, timeout=3000)
    controller.shutdown()


def test_failed_model_load_and_refused_rate_are_reported(qtbot, window_and_engine):
    window, _ = window_and_engine
    window._model_chosen("/nowhere/broken.safetensors")
    qtbot.waitUntil(lambda: "model failed to load" in window.message_area.text(), timeout=3000)
    window.audio.sample_rate.setCurrentText("44100")
    assert "refuses 44100" in window.audio.rate_status.text()
    window.audio.sample_rate.setCurrentText("48000")
    assert "accepted" in window.audio.rate_status.text()
    assert window.controller.settings.sample_rate == 48000


def test_host_api_filters_devices(window_and_engine):
    window, _ = window_and_engine
    window.audio.host_api.setCurrentText("JACK")
    names = [window.audio.input_device.itemText(i) for i in range(window.audio.input_device.count())]
    assert "system" in names and "USB interface" not in names


def test_named_preset_round_trip_through_the_window(qtbot, window_and_engine):
    window, engine = window_and_engine
    _start(qtbot, window)
    window.voice.pitch.setValue(7.0)
    window.performance.gate.setValue(-35)
    window.save_named_preset("song two")
    window.voice.pitch.setValue(0.0)
    window.performance.gate.setValue(-60)
    window.load_named_preset("song two")
    assert window.voice.pitch.value() == pytest.approx(7.0)
    assert engine.last("pitch") == pytest.approx(7.0) and engine.last("gate") == -35
    window.load_named_preset("missing")
    assert "no saved preset 'missing'" in window.message_area.text()


def test_engine_that_stops_by_itself_is_reported_and_can_be_restarted(qtbot, window_and_engine):
    window, engine = window_and_engine
    _start(qtbot, window)
    engine._running = False  # the device went away under the engine
    qtbot.waitUntil(lambda: "device lost" in window.message_area.text(), timeout=3000)
    qtbot.waitUntil(lambda: not window.controller.running and not window.controller.busy, timeout=3000)
    assert not window.transport.start_button.isChecked()
    _start(qtbot, window)


def test_default_model_is_preselected_and_the_stand_in_stays_offered(qtbot, tmp_path, monkeypatch):
    import gui.panels.voice as voice

    default = tmp_path / "default.safetensors"
    other = tmp_path / "other.safetensors"
    monkeypatch.setattr(voice, "find_models", lambda: ([other, default], default))
    controller = EngineController(lambda settings: FakeEngine(), GuiSettings())
    window = MainWindow(controller, SettingsStore(tmp_path / "gui.json"), ModelLoader(_failing_loader),
                        device_source=FakeDevices())
    qtbot.addWidget(window)
    assert window.voice.model.currentText() == "default (default)"
    assert controller.settings.model == str(default)
    assert window.voice.model.findData("") >= 0


def test_record_button_records_into_a_take_folder_while_running(qtbot, window_and_engine, tmp_path):
    window, engine = window_and_engine
    assert not window.transport.record_button.isEnabled()  # nothing to record while stopped
    window.controller.update_settings(record_folder=str(tmp_path))
    _start(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert engine.last("record").startswith(str(tmp_path / "take-"))
    assert window.transport.record_button.isChecked()


def test_closing_the_window_saves_the_settings(qtbot, window_and_engine):
    window, _ = window_and_engine
    window.voice.pitch.setValue(-2.5)
    window.audio.output_device.setCurrentText("Headphones")
    window.close()
    saved = window.store.load()
    assert saved.pitch == pytest.approx(-2.5) and saved.output_device == "Headphones"


@pytest.mark.parametrize("focused", ["pitch", "singer", "f0_method", "gate", "preset", "auto_transpose"])
def test_shortcuts_work_whatever_widget_has_focus(qtbot, window_and_engine, focused):
    window, engine = window_and_engine
    widget = {"pitch": window.voice.pitch, "singer": window.voice.singer, "f0_method": window.voice.f0_method,
              "gate": window.performance.gate, "preset": window.performance.preset,
              "auto_transpose": window.voice.auto_transpose}[focused]
    _start(qtbot, window)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2000)
    others = lambda: (window.voice.singer.currentText(), window.voice.f0_method.currentText(),  # noqa: E731
                      window.performance.gate.value(), window.performance.preset.currentText(),
                      window.voice.auto_transpose.isChecked())
    before = others()
    qtbot.keyClick(widget, Qt.Key.Key_Up)
    assert window.voice.pitch.value() == pytest.approx(1.0)  # once: the focused widget did not also step
    assert engine.last("pitch") == pytest.approx(1.0)
    qtbot.keyClick(widget, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.voice.pitch.value() == pytest.approx(-11.0)
    qtbot.keyClick(widget, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.controller.running and not window.controller.busy, timeout=3000)
    assert others() == before  # the focused widget itself was left alone


def test_monitor_gain_changes_live_other_audio_settings_at_the_next_start(qtbot, window_and_engine):
    window, engine = window_and_engine
    window.audio.monitor_gain.setValue(-3.0)  # while stopped: the panel's values become the settings
    _start(qtbot, window)
    window.audio.monitor_gain.setValue(-9.5)
    assert engine.last("monitor_gain") == pytest.approx(-9.5)
    assert "next Start" not in window.statusBar().currentMessage()
    window.audio.device_block.setCurrentIndex((window.audio.device_block.currentIndex() + 1) % window.audio.device_block.count())
    assert "next Start" in window.statusBar().currentMessage()


def test_f0_method_follows_the_preset_until_the_performer_picks_one(qtbot, window_and_engine):
    from gui.panels.voice import PRESET_F0

    window, engine = window_and_engine
    assert window.voice.f0_method.currentText() == PRESET_F0 and window.controller.settings.f0_method == ""
    _start(qtbot, window)
    assert engine.last("f0_method") is None  # nothing forced: the engine runs the preset's tracker
    window.voice.f0_method.setCurrentText("harvest")
    assert engine.last("f0_method") == "harvest"
    engine.calls.clear()
    window.performance.preset.setCurrentText("safe")
    assert engine.last("preset") is not None and engine.last("f0_method") == "harvest"  # the choice sticks
    engine.calls.clear()
    window.voice.f0_method.setCurrentText(PRESET_F0)
    assert window.controller.settings.f0_method == ""
    assert engine.last("preset").f0_method == "fcpe" and engine.last("f0_method") is None


def test_retrieval_is_offered_only_for_a_model_with_an_index(qtbot, window_and_engine):
    window, engine = window_and_engine
    qtbot.waitUntil(lambda: window.voice.singer.count() == 2, timeout=3000)
    assert not window.voice.retrieval.isEnabled()  # the stand-in has no index
    indexed = type("Indexed", (), {"singers": ["alto", "tenor"], "description": "indexed model",
                                   "retrieval_available": True})()
    window._model_loaded(indexed, "indexed.safetensors")
    assert window.voice.retrieval.isEnabled()
    window.voice.retrieval.setValue(0.3)  # made while stopped: applied at start
    engine.retrieval_available = True
    _start(qtbot, window)
    assert engine.last("retrieval") == pytest.approx(0.3)
    window.voice.retrieval.setValue(0.75)
    assert engine.last("retrieval") == pytest.approx(0.75)
    assert window.controller.settings.retrieval == pytest.approx(0.75)
    window._model_loaded(type("Plain", (), {"singers": ["alto", "tenor"], "description": "plain model"})(), "p")
    assert not window.voice.retrieval.isEnabled()


def test_the_noise_scale_shows_the_models_own_and_reaches_the_engine(qtbot, window_and_engine):
    from gui.settings import LATENT_SCALE_MODEL_OWN

    window, engine = window_and_engine
    qtbot.waitUntil(lambda: window.voice.singer.count() == 2, timeout=3000)
    control = window.voice.latent_scale
    assert not control.isEnabled()  # the stand-in has no student
    model = type("Model", (), {"singers": ["alto", "tenor"], "description": "a model", "own_latent_scale": 0.6})()
    window._model_loaded(model, "model.safetensors")
    assert control.isEnabled() and control.value() == LATENT_SCALE_MODEL_OWN
    assert control.text() == "model's own (0.60)"
    engine.own_latent_scale = 0.6
    _start(qtbot, window)
    assert engine.last("latent_scale") is None  # the model's own, as the engine names it
    control.setValue(0.85)
    assert engine.last("latent_scale") == pytest.approx(0.85)
    assert window.controller.settings.latent_scale == pytest.approx(0.85)
    control.setValue(LATENT_SCALE_MODEL_OWN)
    assert engine.last("latent_scale") is None and window.controller.settings.latent_scale == LATENT_SCALE_MODEL_OWN
    window._model_loaded(type("Plain", (), {"singers": ["alto", "tenor"], "description": "stand-in"})(), "")
    assert not control.isEnabled()


def test_the_f0_plot_shades_the_chosen_singers_range(qtbot, window_and_engine):
    import math

    window, _engine = window_and_engine
    qtbot.waitUntil(lambda: window.voice.singer.count() == 2, timeout=3000)
    band = window.live.singer_range
    assert not band.isVisible()  # the stand-in knows no singer's pitch
    model = type("Model", (), {"singers": ["alto", "tenor"], "description": "a model",
                               "singer_medians_hz": {"alto": 220.0}})()
    window._model_loaded(model, "model.safetensors")
    window.voice.singer.setCurrentText("alto")
    assert band.isVisible()
    low, high = band.getRegion()  # log10 Hz: five semitones either side of 220 Hz
    assert 10 ** low == pytest.approx(220.0 / 2 ** (5 / 12), rel=1e-4)
    assert 10 ** high == pytest.approx(220.0 * 2 ** (5 / 12), rel=1e-4)
    assert math.isclose((low + high) / 2, math.log10(220.0), rel_tol=1e-6)
    assert "165-294 Hz" in window.live.pitch.plotItem.titleLabel.text
    window.voice.singer.setCurrentText("tenor")  # a singer the file has no median for
    assert not band.isVisible() and "shaded" not in window.live.pitch.plotItem.titleLabel.text
    window.voice.singer.setCurrentText("alto")
    window._model_loaded(type("Plain", (), {"singers": ["alto", "tenor"], "description": "stand-in"})(), "")
    assert not band.isVisible()
