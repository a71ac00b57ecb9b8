"""The app's settings: one plain dataclass, stored as JSON between runs, with named user presets."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

from core.device import DEFAULT_DEVICE
from core.errors import UserError
from core.features.pitch import check_pitch_shift
from core.features.retrieval import check_retrieval_ratio


# The window's noise-scale control: 0 stands for "the model's own" (edm.student_latent_scale). A scale of
# 0 itself (no noise: outside what the student learnt, its harmonics drown) is offered only by the CLI.
LATENT_SCALE_MODEL_OWN = 0.0
LATENT_SCALE_MAX = 1.5


def check_gui_latent_scale(value: float) -> float:
    """The window's latent-scale setting: LATENT_SCALE_MODEL_OWN or a scale up to LATENT_SCALE_MAX."""
    if not 0.0 <= value <= LATENT_SCALE_MAX:
        raise UserError(f"the window's noise scale is 0 (the model's own) to {LATENT_SCALE_MAX}, got {value}")
    return value


def engine_latent_scale(value: float) -> float | None:
    """The engine's form of the setting: None for the model's own."""
    return None if value == LATENT_SCALE_MODEL_OWN else value


DEFAULT_PRESET = "balanced"


@lru_cache(maxsize=1)
def _default_preset():
    from realtime.presets import load_preset

    return load_preset(DEFAULT_PRESET)


def _from_default_preset(name: str):
    """An advanced block field's first-run value: the default preset's own (configs/presets), not a copy of it."""
    return field(default_factory=lambda: float(getattr(_default_preset(), name)))


@dataclass(frozen=True)
class GuiSettings:
    host_api: str = ""
    input_device: str = ""          # device name; "" = system default
    output_device: str = ""
    monitor_device: str = ""        # "" = no separate monitor output
    monitor_gain_db: float = 0.0
    sample_rate: int = 48000
    device_block: int = 256
    model: str = ""                 # model file path; "" = default model (or the stand-in where none)
    singer: str = ""
    pitch: float = 0.0
    auto_transpose: bool = False
    retrieval: float = 0.0          # feature-retrieval ratio 0..1 (models with an index only)
    latent_scale: float = LATENT_SCALE_MODEL_OWN  # the student's noise scale; 0 = the model's own
    f0_method: str = ""             # "" = the preset's pitch tracker (configs/presets)
    preset: str = DEFAULT_PRESET
    block_ms: float = _from_default_preset("block_ms")
    crossfade_ms: float = _from_default_preset("crossfade_ms")
    lookahead_ms: float = _from_default_preset("lookahead_ms")
    sola_search_ms: float = _from_default_preset("sola_search_ms")
    gate_db: float = -50.0
    input_gain_db: float = 0.0
    output_gain_db: float = 0.0
    record_folder: str = ""
    compute_device: str = DEFAULT_DEVICE  # where the model runs: cpu, auto, cuda, cuda:N (core.device)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GuiSettings":
        """Known keys only, each coerced to its field's type; a bad value keeps the default. Bad means of
        the wrong type, a number that is not finite, or outside what the engine accepts (a hand-edited file
        must not make Start fail on a value the window never shows)."""
        defaults = cls()
        values = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            kind = type(getattr(defaults, f.name))
            try:
                value = kind(data[f.name])
                if kind is float and not math.isfinite(value):
                    continue
                values[f.name] = _RANGE_CHECKS.get(f.name, lambda v: v)(value)
            except (TypeError, ValueError, OverflowError, UserError):
                continue
        return replace(defaults, **values)


# Fields whose values the engine refuses outside a range: the same checks as the engine's (UserError).
_RANGE_CHECKS = {"pitch": check_pitch_shift, "retrieval": check_retrieval_ratio, "latent_scale": check_gui_latent_scale}


def default_settings_path() -> Path:
    override = os.environ.get("COMOSVC_GUI_SETTINGS")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "comosvc" / "gui.json"


class SettingsStore:
    """Last-used settings plus named presets in one JSON file (written atomically)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_settings_path()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # first run or a damaged file: start from defaults rather than refuse to open
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def load(self) -> GuiSettings:
        return GuiSettings.from_dict(self._read().get("last", {}))

    def save(self, settings: GuiSettings) -> None:
        data = self._read()
        data["last"] = settings.to_dict()
        self._write(data)

    def preset_names(self) -> list[str]:
        presets = self._read().get("presets", {})
        return sorted(presets) if isinstance(presets, dict) else []

    def save_preset(self, name: str, settings: GuiSettings) -> None:
        name = name.strip()
        if not name:
            raise UserError("a preset needs a name")
        data = self._read()
        presets = data.get("presets") if isinstance(data.get("presets"), dict) else {}
        presets[name] = settings.to_dict()
        data["presets"] = presets
        self._write(data)

    def load_preset(self, name: str) -> GuiSettings:
        presets = self._read().get("presets", {})
        if not isinstance(presets, dict) or name not in presets:
            raise UserError(f"no saved preset '{name}'; saved: {', '.join(self.preset_names()) or 'none'}")
        return GuiSettings.from_dict(presets[name])
