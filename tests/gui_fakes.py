"""Test doubles for the GUI tests only: an engine that records the controls it is given, and a device list."""

from __future__ import annotations

import threading

import numpy as np

from core.errors import UserError
from realtime.devices import DeviceInfo
from realtime.snapshot import EngineSnapshot, empty_snapshot


class FakeEngine:
    """Implements the agreed Engine control API; remembers every call in `calls`."""

    def __init__(self, singers=("alto", "tenor"), start_error: str | None = None) -> None:
        self.singers = list(singers)
        self.calls: list[tuple[str, object]] = []
        self._running = False
        self._start_error = start_error
        self._lock = threading.Lock()
        self.converter = type("C", (), {"f0_methods": ["dio", "harvest"]})()

    def _record(self, name: str, value) -> None:
        with self._lock:
            self.calls.append((name, value))

    def last(self, name: str):
        values = [v for n, v in self.calls if n == name]
        return values[-1] if values else None

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        if self._start_error:
            raise UserError(self._start_error)
        self._running = True

    def stop(self) -> None:
        self._running = False

    def snapshot(self) -> EngineSnapshot:
        wave = np.sin(np.linspace(0, 60, 4800)).astype(np.float32) * 0.3
        f0 = np.full(100, 220.0, dtype=np.float32)
        base = empty_snapshot(24000, 40.0)
        return EngineSnapshot(**{**base.__dict__, "running": self._running, "input_wave": wave, "output_wave": wave,
                                 "f0_in_hz": f0, "f0_target_hz": f0 * 2, "input_level_db": -20.0,
                                 "compute_ms": np.full(50, 12.0, dtype=np.float32), "latency_ms": 95.0})

    def set_singer(self, name: str) -> None:
        if name not in self.singers:
            raise UserError(f"unknown singer '{name}'")
        self._record("singer", name)

    def set_pitch(self, semitones: float) -> None:
        self._record("pitch", semitones)

    def set_auto_transpose(self, on: bool) -> None:
        self._record("auto_transpose", on)

    def set_f0_method(self, name: str) -> None:
        self._record("f0_method", name)

    retrieval_available = False  # as the engine: only a model with an index takes a ratio above 0

    def set_retrieval(self, ratio: float) -> None:
        if ratio > 0 and not self.retrieval_available:
            raise UserError("this model holds no retrieval index")
        self._record("retrieval", ratio)

    own_latent_scale = None  # as the stand-in: no student; a model's converter has its own scale here

    def set_latent_scale(self, scale) -> None:
        if scale is not None and self.own_latent_scale is None:
            raise UserError("the latent scale sets a model's student; this converter has none")
        self._record("latent_scale", scale)

    def set_gate_threshold(self, db: float) -> None:
        self._record("gate", db)

    def set_input_gain(self, db: float) -> None:
        self._record("input_gain", db)

    def set_output_gain(self, db: float) -> None:
        self._record("output_gain", db)

    def set_bypass(self, on: bool) -> None:
        self._record("bypass", on)

    def set_monitor_gain(self, db: float) -> None:
        self._record("monitor_gain", db)

    def set_preset(self, preset) -> None:
        self._record("preset", preset)

    def swap_converter(self, converter) -> None:
        self._record("swap", converter)

    def start_recording(self, folder: str) -> None:
        self._record("record", folder)

    def stop_recording(self) -> list[str]:
        return []


class FakeDevices:
    """Two host APIs; the USB interface refuses 44100 Hz."""

    def host_apis(self) -> list[str]:
        return ["ALSA", "JACK"]

    def devices(self) -> list[DeviceInfo]:
        return [DeviceInfo(0, "USB interface", "ALSA", 2, 2, 48000.0, True, True),
                DeviceInfo(1, "Headphones", "ALSA", 0, 2, 48000.0, False, False),
                DeviceInfo(2, "system", "JACK", 2, 2, 48000.0, False, False)]

    def check_rate(self, device, rate: int, kind: str) -> str | None:
        if device in (None, "USB interface") and rate == 44100:
            return f"{kind} device 'USB interface' refuses 44100 Hz"
        return None
