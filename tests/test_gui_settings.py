"""Settings persist between runs; named presets; damaged files fall back to defaults."""

from __future__ import annotations

import pytest

from core.errors import UserError
from gui.settings import GuiSettings, SettingsStore


def test_settings_round_trip(tmp_path):
    store = SettingsStore(tmp_path / "sub" / "gui.json")
    wanted = GuiSettings(pitch=-3.5, singer="alto", gate_db=-44.0, output_device="Headphones", sample_rate=44100)
    store.save(wanted)
    assert SettingsStore(tmp_path / "sub" / "gui.json").load() == wanted


def test_presets_are_kept_next_to_the_last_settings(tmp_path):
    store = SettingsStore(tmp_path / "gui.json")
    store.save(GuiSettings(pitch=1.0))
    store.save_preset("verse", GuiSettings(pitch=5.0))
    store.save_preset("chorus", GuiSettings(pitch=12.0))
    assert store.preset_names() == ["chorus", "verse"]
    assert store.load_preset("verse").pitch == 5.0
    assert store.load().pitch == 1.0
    with pytest.raises(UserError, match="no saved preset 'bridge'"):
        store.load_preset("bridge")
    with pytest.raises(UserError):
        store.save_preset("  ", GuiSettings())


def test_damaged_file_and_bad_values_fall_back_to_defaults(tmp_path):
    path = tmp_path / "gui.json"
    path.write_text("{not json")
    assert SettingsStore(path).load() == GuiSettings()
    path.write_text('{"last": {"pitch": "high", "gate_db": -20, "unknown": 1}}')
    loaded = SettingsStore(path).load()
    assert loaded.pitch == GuiSettings().pitch and loaded.gate_db == -20.0
