"""The window's Compute setting: saved and restored, offered from core.device, reloads the model on change."""

from __future__ import annotations

import pytest
import torch

from gui.settings import GuiSettings, SettingsStore


def test_compute_device_round_trips_through_settings(tmp_path):
    store = SettingsStore(tmp_path / "gui.json")
    assert store.load().compute_device == "cpu"  # first run: the CPU
    store.save(GuiSettings(compute_device="cuda:1", pitch=2.0))
    loaded = SettingsStore(tmp_path / "gui.json").load()
    assert loaded.compute_device == "cuda:1" and loaded.pitch == 2.0
    store.save_preset("gpu rig", GuiSettings(compute_device="auto"))
    assert store.load_preset("gpu rig").compute_device == "auto"


def test_preloaded_converter_is_reused_only_on_its_device(monkeypatch):
    pytest.importorskip("pytestqt")
    from gui.controller import EngineController

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    controller = EngineController(lambda s: None, GuiSettings())
    on_cpu = type("Converter", (), {"device": torch.device("cpu")})()
    controller.preloaded = ("m.safetensors", on_cpu)
    assert controller.preloaded_converter("m.safetensors", "cpu") is on_cpu
    assert controller.preloaded_converter("m.safetensors", "cuda") is None
    assert controller.preloaded_converter("other.safetensors", "cpu") is None
    stand_in = object()  # no device: runs on the CPU whatever is chosen
    controller.preloaded = ("", stand_in)
    assert controller.preloaded_converter("", "cuda") is stand_in


def test_choosing_a_device_saves_it_and_reloads_the_model(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from gui.controller import EngineController, ModelLoader
    from gui.main_window import MainWindow
    from tests.gui_fakes import FakeDevices, FakeEngine

    monkeypatch.setattr("core.models.default_model_path", lambda: None)
    monkeypatch.setattr("core.models.list_models", lambda: ([], []))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    loads = []

    def loader(path):
        loads.append((path, controller.settings.compute_device))
        return type("StandIn", (), {"singers": ["alto"], "description": "fake"})()

    controller = EngineController(lambda settings: FakeEngine(), GuiSettings())
    store = SettingsStore(tmp_path / "gui.json")
    window = MainWindow(controller, store, ModelLoader(loader), device_source=FakeDevices())
    qtbot.addWidget(window)
    combo = window.performance.compute_device
    assert [combo.itemText(i) for i in range(combo.count())] == ["cpu", "auto", "cuda", "cuda:0", "cuda:1"]
    assert combo.currentText() == "cpu"
    qtbot.waitUntil(lambda: len(loads) == 1, timeout=3000)
    combo.setCurrentText("cuda:1")
    qtbot.waitUntil(lambda: len(loads) == 2, timeout=3000)
    assert loads[-1] == ("", "cuda:1")
    window.save_settings()
    assert store.load().compute_device == "cuda:1"
    controller.shutdown()
    window.model_loader.wait()


def test_a_saved_device_this_machine_lacks_is_still_shown(monkeypatch):
    from gui.panels.performance import compute_device_names

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert compute_device_names("cpu") == ["cpu", "auto"]
    assert compute_device_names("cuda:1") == ["cpu", "auto", "cuda:1"]
