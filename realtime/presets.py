"""Live presets: block size, windows and the plugin chain, loaded from YAML or JSON.

The defaults live in configs/presets/<name>.yaml, once; this module only
validates and loads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError
from core.features.pitch_settings import PITCH_METHODS

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs" / "presets"
# A preset keeps up where its blocks last this much longer than a block's compute: the engine's output
# margin and the spread of compute times (p99 1.3-1.5 x p50 in session 57's engine runs, BENCHMARKS.md) need
# the rest.
KEEP_UP_HEADROOM = 1.3
_TIMES = ("block_ms", "context_ms", "lookahead_ms", "crossfade_ms", "sola_search_ms", "output_margin_ms")


@dataclass(frozen=True)
class Preset:
    name: str
    block_ms: float         # new audio per block
    context_ms: float       # left context for features / the model
    lookahead_ms: float     # right lookahead
    crossfade_ms: float     # SOLA crossfade
    sola_search_ms: float   # SOLA offset search window
    output_margin_ms: float  # added to measured compute for the output fill target
    chain: list[dict] = field(default_factory=lambda: [{"plugin": "converter"}])
    # The live pitch tracker this preset can afford (None: the model's configured one). On 2 CPU
    # cores FCPE costs ~11 ms a block even on int8 weights, DIO ~4 ms (BENCHMARKS.md).
    f0_method: str | None = None

    def samples(self, name: str, sample_rate: int) -> int:
        """One of the *_ms fields as a whole number of samples at `sample_rate`."""
        return int(round(getattr(self, name) * sample_rate / 1000.0))

    def with_changes(self, **changes: Any) -> "Preset":
        return _validated(replace(self, **changes))

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_keeping_up(compute_ms: float, headroom: float = KEEP_UP_HEADROOM) -> Preset | None:
    """The built-in preset with the shortest blocks that still last `headroom` x `compute_ms` (None if none does).

    A block's cost is mostly the fixed cost of one pass through the networks, so it grows far more slowly
    than the block: a machine that cannot convert 40 ms blocks in time may keep up with 100 ms ones."""
    presets = [load_preset(name) for name in available_presets()]
    return min((p for p in presets if p.block_ms >= headroom * compute_ms), key=lambda p: p.block_ms, default=None)


def load_preset(name_or_path: str | Path) -> Preset:
    """A preset by name (configs/presets/<name>.yaml) or by path to a .yaml/.yml/.json file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown preset '{name_or_path}'; known presets: {', '.join(available_presets())}")
    if not path.is_file():
        raise ConfigError(f"preset file not found: {path}")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read preset {path}: {exc}") from None
    return preset_from_dict(data, default_name=path.stem)


def preset_from_dict(data: Any, default_name: str = "custom") -> Preset:
    if not isinstance(data, dict):
        raise ConfigError("a preset must be a mapping of keys to values")
    known = {f.name for f in fields(Preset)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown preset keys: {', '.join(sorted(unknown))}")
    missing = set(_TIMES) - set(data)
    if missing:
        raise ConfigError(f"preset is missing: {', '.join(sorted(missing))}")
    values = dict(data)
    values.setdefault("name", default_name)
    values.setdefault("chain", [{"plugin": "converter"}])
    try:
        for key in _TIMES:
            values[key] = float(values[key])
    except (TypeError, ValueError):
        raise ConfigError(f"preset times must be numbers (ms): {key}") from None
    return _validated(Preset(**values))


def _validated(preset: Preset) -> Preset:
    if preset.block_ms < 2.0 or preset.block_ms > 1000.0:
        raise ConfigError(f"block_ms must be between 2 and 1000, got {preset.block_ms}")
    for key in _TIMES[1:]:
        if getattr(preset, key) < 0:
            raise ConfigError(f"{key} must not be negative")
    if preset.crossfade_ms > preset.block_ms:
        raise ConfigError("crossfade_ms must not exceed block_ms")
    if not isinstance(preset.chain, list) or not all(isinstance(p, dict) and "plugin" in p for p in preset.chain):
        raise ConfigError("chain must be a list of mappings, each with a 'plugin' key")
    if sum(p["plugin"] == "converter" for p in preset.chain) != 1:
        raise ConfigError("chain must contain exactly one 'converter'")
    if preset.f0_method is not None and preset.f0_method not in PITCH_METHODS:
        raise ConfigError(f"unknown f0_method '{preset.f0_method}'; choose one of: {', '.join(PITCH_METHODS)}")
    return preset
