"""What an engine is built from, as plain picklable values, and the builder itself.

The window's settings become an EngineSpec; the same spec builds the engine in the
window's process or, sent to a spawned process, in a process of its own
(realtime.engine_process). Nothing here knows of Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.presets import Preset


@dataclass(frozen=True)
class EngineSpec:
    preset: Preset
    model: str = ""                  # model file; "" = the default model (or the stand-in where none)
    compute_device: str | None = None  # where the model runs (core.device); None = the CPU
    sample_rate: int = 48000
    device_block: int = 256
    input_device: str = ""           # "" = the system default
    output_device: str = ""
    monitor_device: str = ""         # "" = no separate monitor output
    monitor_gain_db: float = 0.0
    simulate_input: np.ndarray | None = None  # device-rate audio looped in real time instead of the devices


def make_backend(spec: EngineSpec):
    """The simulator (looping the given audio in real time) or the sound devices."""
    if spec.simulate_input is not None:
        from realtime.simulator import SimulatedBackend

        return SimulatedBackend(spec.simulate_input, samplerate=spec.sample_rate, blocksize=spec.device_block,
                                realtime=True, loop=True)
    from realtime.devices import SoundDeviceBackend

    return SoundDeviceBackend(spec.input_device or None, spec.output_device or None, spec.sample_rate,
                              blocksize=spec.device_block, monitor_device=spec.monitor_device or None,
                              monitor_gain_db=spec.monitor_gain_db)


def build_engine(spec: EngineSpec, converter=None):
    """A ready-to-start engine; raises UserError when the model or a device is refused."""
    from realtime.engine import Engine
    from realtime.model_converter import make_converter

    converter = converter if converter is not None else make_converter(spec.model or None, spec.compute_device)
    return Engine(converter, spec.preset, make_backend(spec))
