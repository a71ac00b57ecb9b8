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


@pytest.mark.parametrize("field, bad", [("pitch", 99.0), ("pitch", "NaN"), ("retrieval", 5.0), ("retrieval", -0.1),
                                        ("latent_scale", -0.1), ("latent_scale", 2.0), ("latent_scale", "nan"),
                                        ("gate_db", "inf"), ("block_ms", "nan")])
def test_values_the_engine_would_refuse_fall_back_to_defaults(tmp_path, field, bad):
    """A hand-edited settings file must not make Start fail on a value the window's controls cannot show."""
    path = tmp_path / "gui.json"
    path.write_text('{"last": {"%s": "%s", "singer": "alto"}}' % (field, bad))
    loaded = SettingsStore(path).load()
    assert getattr(loaded, field) == getattr(GuiSettings(), field)
    assert loaded.singer == "alto"


def test_values_inside_the_ranges_are_kept(tmp_path):
    path = tmp_path / "gui.json"
    path.write_text('{"last": {"pitch": -12, "retrieval": 0.75, "latent_scale": 0.8}}')
    loaded = SettingsStore(path).load()
    assert (loaded.pitch, loaded.retrieval, loaded.latent_scale) == (-12.0, 0.75, 0.8)
