"""The only part of the GUI that talks to the engine.

Slow work (building the engine, loading a model, opening devices, stopping)
runs on a plain worker thread; results come back to the GUI thread as Qt
signals (queued across threads). A QTimer polls engine.snapshot() at ~30 fps:
the GUI never sees audio buffers or the audio callback.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from core.errors import UserError
from gui.settings import GuiSettings, engine_latent_scale

_SAME = object()  # _update: the engine takes the value as the settings keep it

EngineBuilder = Callable[[GuiSettings], object]
SNAPSHOT_INTERVAL_MS = 33


class EngineController(QObject):
    snapshot_ready = pyqtSignal(object)   # EngineSnapshot
    running_changed = pyqtSignal(bool)
    busy_changed = pyqtSignal(bool)       # starting or stopping in the background
    error = pyqtSignal(str)
    info = pyqtSignal(str)
    singers_changed = pyqtSignal(list)
    recording_changed = pyqtSignal(bool)
    _started = pyqtSignal(object)         # engine, from the worker thread
    _stopped = pyqtSignal()

    def __init__(self, build_engine: EngineBuilder, settings: GuiSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._build_engine = build_engine
        self.settings = settings or GuiSettings()
        self.engine = None
        self.preloaded: tuple[str, object] | None = None  # (model path, converter) loaded ahead of Start
        self._busy = False
        self._closing = False  # the window is closing: an engine that finishes starting now is stopped at once
        self._seen_messages: tuple[str, ...] = ()
        self._timer = QTimer(self)
        self._timer.setInterval(SNAPSHOT_INTERVAL_MS)
        self._timer.timeout.connect(self._poll)
        self._started.connect(self._on_started)
        self._stopped.connect(self._on_stopped)

    # ---- lifecycle -------------------------------------------------------------------------
    def preloaded_converter(self, model: str, device: str | None = None):
        """The converter already loaded for `model` (on `device`, when given), so Start does not load it twice;
        None if there is none."""
        if self.preloaded is None or self.preloaded[0] != model:
            return None
        converter = self.preloaded[1]
        if device is not None and getattr(converter, "device", None) is not None:
            from core.device import resolve_device

            if converter.device != resolve_device(device):
                return None
        return converter

    @property
    def running(self) -> bool:
        return self.engine is not None and bool(self.engine.running)

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busy_changed.emit(busy)

    def start(self) -> None:
        if self._busy or self.running:
            return
        self._set_busy(True)
        settings = self.settings
        threading.Thread(target=self._start_in_background, args=(settings,), name="gui-engine-start",
                         daemon=True).start()

    def _start_in_background(self, settings: GuiSettings) -> None:
        engine = None
        try:
            engine = self._build_engine(settings)
            self._apply_all(engine, settings)
            engine.start()
            if self._closing:
                engine.stop()
                self._busy = False  # shutdown() is waiting for this; no signal reaches a closing window
                return
        except UserError as exc:
            self._discard(engine)
            self.error.emit(str(exc))
            self._started.emit(None)
            return
        except Exception as exc:  # noqa: BLE001 - the window must survive any engine failure
            self._discard(engine)
            self.error.emit(f"could not start the engine: {type(exc).__name__}: {exc}")
            self._started.emit(None)
            return
        self._started.emit(engine)

    @staticmethod
    def _discard(engine) -> None:
        """An engine that was built but did not start: one in its own process must not stay behind."""
        close = getattr(engine, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - already failing; the first error is the one to show
                pass

    def _on_started(self, engine) -> None:
        self._set_busy(False)
        if engine is None:
            self.running_changed.emit(False)
            return
        self.engine = engine
        self._seen_messages = ()
        self.singers_changed.emit(list(engine.singers))
        self._timer.start()
        self.running_changed.emit(True)
        self.info.emit("running")

    def stop(self) -> None:
        if self._busy or self.engine is None:
            return
        self._set_busy(True)
        engine = self.engine
        threading.Thread(target=self._stop_in_background, args=(engine,), name="gui-engine-stop",
                         daemon=True).start()

    def _stop_in_background(self, engine) -> None:
        for step in (engine.stop_recording, engine.stop):  # a failed first step must not skip stop
            try:
                step()
            except Exception as exc:  # noqa: BLE001
                self.error.emit(f"stopping the engine failed: {exc}")
        self._stopped.emit()

    def _on_stopped(self) -> None:
        self._timer.stop()
        engine, self.engine = self.engine, None
        if engine is not None:
            self.snapshot_ready.emit(engine.snapshot())
        self._set_busy(False)
        self.running_changed.emit(False)
        self.recording_changed.emit(False)
        self.info.emit("stopped")

    def toggle(self) -> None:
        self.stop() if self.engine is not None else self.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop synchronously (window closing): the audio must not outlive the window."""
        self._closing = True
        self._timer.stop()
        release = getattr(self._build_engine, "close", None)  # a builder that keeps a process spawned ahead
        if release is not None:
            release()
        if self.engine is not None:
            for step in (self.engine.stop_recording, self.engine.stop):  # a failed first step must not skip stop
                try:
                    step()
                except Exception:  # noqa: BLE001
                    pass
            self.engine = None
        deadline = time.monotonic() + timeout_s
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.01)

    # ---- snapshot polling ----------------------------------------------------------------------
    def _poll(self) -> None:
        if self.engine is None:
            return
        snap = self.engine.snapshot()
        new = [m for m in snap.messages if m not in self._seen_messages]
        self._seen_messages = tuple(snap.messages)
        for message in new + list(getattr(self.engine, "take_errors", list)()):  # + setters refused in its process
            self.error.emit(message)
        ended = getattr(self.engine, "wait", None)
        if not self._busy and (not self.engine.running or (ended is not None and ended(0))):
            # the backend (device lost) or the engine's process ended by itself: tidy up, keep the window usable
            reason = getattr(self.engine, "end_reason", None) or "the audio engine stopped (device lost?)"
            self.error.emit(f"{reason}; press Start to try again")
            self.stop()
        self.snapshot_ready.emit(snap)

    # ---- live controls (each remembered in settings, applied to a running engine) -----------------
    def _apply_all(self, engine, s: GuiSettings) -> None:
        if s.singer and s.singer in engine.singers:
            engine.set_singer(s.singer)
        engine.set_pitch(s.pitch)
        engine.set_auto_transpose(s.auto_transpose)
        if getattr(engine, "retrieval_available", False):  # a model without an index keeps the setting for later
            engine.set_retrieval(s.retrieval)
        if getattr(engine, "own_latent_scale", None) is not None:  # the stand-in has no student to sample
            engine.set_latent_scale(engine_latent_scale(s.latent_scale))
        if s.f0_method in _f0_methods(engine, s.f0_method):
            engine.set_f0_method(s.f0_method)
        engine.set_gate_threshold(s.gate_db)
        engine.set_input_gain(s.input_gain_db)
        engine.set_output_gain(s.output_gain_db)

    def _update(self, setter: str, field: str, value, engine_value=_SAME) -> None:
        """Remember `value` in the settings; pass it (or `engine_value`, the engine's form) to a running engine."""
        self.settings = replace(self.settings, **{field: value})
        if self.engine is None:
            return
        try:
            getattr(self.engine, setter)(value if engine_value is _SAME else engine_value)
        except UserError as exc:
            self.error.emit(str(exc))

    def set_singer(self, name: str) -> None:
        if name:
            self._update("set_singer", "singer", name)

    def set_pitch(self, semitones: float) -> None:
        self._update("set_pitch", "pitch", round(float(semitones), 1))

    def set_auto_transpose(self, on: bool) -> None:
        self._update("set_auto_transpose", "auto_transpose", bool(on))

    def set_retrieval(self, ratio: float) -> None:
        self._update("set_retrieval", "retrieval", round(float(ratio), 2))

    def set_latent_scale(self, scale: float) -> None:
        """The student's noise scale; LATENT_SCALE_MODEL_OWN for the model's own."""
        scale = round(float(scale), 2)
        self._update("set_latent_scale", "latent_scale", scale, engine_latent_scale(scale))

    def set_f0_method(self, name: str) -> None:
        """A tracker by name, or "" to follow the preset's."""
        if name:
            self._update("set_f0_method", "f0_method", name)
            return
        self.settings = replace(self.settings, f0_method="")
        self.apply_preset()  # the engine takes the preset's tracker again

    def set_gate_threshold(self, db: float) -> None:
        self._update("set_gate_threshold", "gate_db", float(db))

    def set_input_gain(self, db: float) -> None:
        self._update("set_input_gain", "input_gain_db", float(db))

    def set_output_gain(self, db: float) -> None:
        self._update("set_output_gain", "output_gain_db", float(db))

    def set_monitor_gain(self, db: float) -> None:
        self._update("set_monitor_gain", "monitor_gain_db", float(db))

    def set_bypass(self, on: bool) -> None:
        if self.engine is not None:
            self.engine.set_bypass(bool(on))

    def update_settings(self, **changes) -> None:
        """Settings that only take effect at the next start (devices, model) or via a preset rebuild."""
        self.settings = replace(self.settings, **changes)

    def apply_preset(self) -> None:
        """Rebuild the running chain with the current preset fields (the engine re-aligns with a fade)."""
        if self.engine is None:
            return
        from gui.engine_factory import make_preset

        try:
            self.engine.set_preset(make_preset(self.settings))
            if self.settings.f0_method:  # the performer's own choice outlives preset changes
                self.engine.set_f0_method(self.settings.f0_method)
        except UserError as exc:
            self.error.emit(str(exc))

    def start_recording(self, folder: str) -> None:
        if self.engine is None:
            self.error.emit("start the engine before recording")
            self.recording_changed.emit(False)
            return
        target = os.path.join(folder, time.strftime("take-%Y%m%d-%H%M%S"))
        try:
            self.engine.start_recording(target)
        except (UserError, OSError) as exc:
            self.error.emit(f"cannot record: {exc}")
            self.recording_changed.emit(False)
            return
        self.recording_changed.emit(True)
        self.info.emit(f"recording into {target}")

    def stop_recording(self) -> list[str]:
        paths = self.engine.stop_recording() if self.engine is not None else []
        self.recording_changed.emit(False)
        if paths:
            self.info.emit("wrote " + ", ".join(paths))
        return paths


def _f0_methods(engine, fallback: str) -> list[str]:
    """The pitch trackers an engine offers: its own list (an engine in another process), else its converter's."""
    methods = getattr(engine, "f0_methods", None)
    if methods is None:
        methods = getattr(getattr(engine, "converter", None), "f0_methods", [fallback])
    return list(methods)


class ModelLoader(QObject):
    """Loads a converter off the GUI thread; the result (or a message) comes back as a signal."""

    loaded = pyqtSignal(object, str)    # converter, path
    failed = pyqtSignal(str)

    def __init__(self, make_converter: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make_converter = make_converter
        self._threads: list[threading.Thread] = []

    def load(self, path: str) -> None:
        thread = threading.Thread(target=self._load, args=(path,), name="gui-model-load", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Wait for loads in flight (a load still running in torch when Python exits aborts it)."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def _load(self, path: str) -> None:
        try:
            converter = self._make_converter(path)
        except UserError as exc:
            self.failed.emit(f"model failed to load: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a broken file must not take the window down
            self.failed.emit(f"model failed to load: {type(exc).__name__}: {exc}")
            return
        self.loaded.emit(converter, path)
