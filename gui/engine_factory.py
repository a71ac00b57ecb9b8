"""Builds a real realtime.Engine from the GUI's settings: here, or in a process of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.errors import UserError
from gui.settings import GuiSettings

if TYPE_CHECKING:  # realtime pulls in torch; the window imports this module before it needs it
    from realtime.engine_spec import EngineSpec


def make_converter(model: str, device: str | None = None):
    """The converter for the chosen model on `device`; the stand-in where no model is chosen or can be run yet."""
    from realtime.model_converter import make_converter as realtime_make_converter

    return realtime_make_converter(model or None, device)


def make_preset(settings: GuiSettings):
    """The named preset with the advanced fields the user set on top."""
    from realtime.presets import load_preset

    base = load_preset(settings.preset)
    try:
        return base.with_changes(block_ms=settings.block_ms, crossfade_ms=settings.crossfade_ms,
                                 lookahead_ms=settings.lookahead_ms, sola_search_ms=settings.sola_search_ms)
    except (ValueError, TypeError) as exc:
        raise UserError(f"preset '{settings.preset}' with these advanced values is invalid: {exc}") from None


def engine_spec(settings: GuiSettings, simulate_input: np.ndarray | None = None) -> EngineSpec:
    """The plain values an engine is built from (picklable: they also travel to the engine's own process)."""
    from realtime.engine_spec import EngineSpec

    return EngineSpec(preset=make_preset(settings), model=settings.model, compute_device=settings.compute_device,
                      sample_rate=settings.sample_rate, device_block=settings.device_block,
                      input_device=settings.input_device, output_device=settings.output_device,
                      monitor_device=settings.monitor_device, monitor_gain_db=settings.monitor_gain_db,
                      simulate_input=simulate_input)


def build_engine(settings: GuiSettings, simulate_input: np.ndarray | None = None, converter=None):
    """A ready-to-start engine in this process; raises UserError with a message for the window when something
    is refused."""
    from realtime.engine_spec import build_engine as build_from_spec

    return build_from_spec(engine_spec(settings, simulate_input), converter)


class EngineProcessBuilder:
    """Builds the same engine in a process of its own (realtime.engine_process): the window only sends settings
    and reads snapshots, so its work cannot stall the audio. One process is kept spawned ahead of Start."""

    def __init__(self, simulate_input: np.ndarray | None = None, snapshot_hz: float | None = None) -> None:
        from realtime.engine_process import EngineProcessStarter

        self.simulate_input = simulate_input
        self.starter = EngineProcessStarter(snapshot_hz)

    def __call__(self, settings: GuiSettings):
        return self.starter.start(engine_spec(settings, self.simulate_input))

    def close(self) -> None:
        """The window is closing: end the process kept ahead, and start no other."""
        self.starter.close()


def demo_input(sample_rate: int, seconds: float = 4.0) -> np.ndarray:
    """A sung-like test phrase (harmonic tone with vibrato, a few notes, breaths) for the simulator."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    notes = np.array([220.0, 246.9, 277.2, 246.9])
    note = notes[(t // (seconds / len(notes))).astype(int) % len(notes)]
    f0 = note * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(np.pi * ((t % (seconds / len(notes))) / (seconds / len(notes)))) * 3, 0, 1)
    return (0.25 * voice * envelope).astype(np.float32)
