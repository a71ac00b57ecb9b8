"""QApplication set-up and the two ways to run the app: interactive, or a timed screenshot."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from core.errors import UserError

STARTUP_WAIT_S = 30.0  # the longest a screenshot waits for the engine to start


def ensure_display() -> None:
    """Fall back to Qt's offscreen platform where there is no display (CI, SSH)."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def get_app():
    from PyQt6.QtWidgets import QApplication

    from gui.theme import apply_dark_theme

    app = QApplication.instance()
    if app is None:
        app = QApplication(["comosvc"])
        app.setApplicationName("CoMoSVC Live")
        app.setOrganizationName("comosvc")
    apply_dark_theme(app)
    return app


def build_window(settings_path: str | None = None, simulate_input: np.ndarray | None = None,
                 device_source=None, compute_device: str | None = None, own_process: bool = False):
    """The main window wired to a real engine (simulator when `simulate_input` is given, else the devices).

    `compute_device` (gui --device) replaces the saved compute device for this run. With `own_process`
    the engine runs in a process of its own (the app's default); without, in this one (tests, debugging).
    """
    from dataclasses import replace

    from gui.controller import EngineController, ModelLoader
    from gui.engine_factory import EngineProcessBuilder, build_engine, make_converter
    from gui.main_window import MainWindow
    from gui.settings import SettingsStore

    store = SettingsStore(settings_path)
    settings = store.load()
    if compute_device:
        settings = replace(settings, compute_device=compute_device)

    def builder(s):
        return build_engine(s, simulate_input, controller.preloaded_converter(s.model, s.compute_device))

    # in its own process the engine loads its own converter: a loaded model cannot cross processes
    controller = EngineController(EngineProcessBuilder(simulate_input) if own_process else builder, settings)
    loader = ModelLoader(lambda path: make_converter(path, controller.settings.compute_device))
    return MainWindow(controller, store, loader, device_source=device_source)


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_interactive(settings_path: str | None = None, simulate: str | None = None,
                    compute_device: str | None = None, engine_in_process: bool = False) -> int:
    if not has_display():
        raise UserError("no display to open the window on (DISPLAY is not set); "
                        "use 'comosvc gui --screenshot out.png' or 'comosvc live' here")
    audio = load_simulation_input(simulate, 48000) if simulate is not None else None
    app = get_app()
    window = build_window(settings_path, audio, _SimulatorDevices() if audio is not None else None, compute_device,
                          own_process=not engine_in_process)
    window.show()
    return int(app.exec())


def load_simulation_input(path: str | None, sample_rate: int) -> np.ndarray:
    from gui.engine_factory import demo_input

    if not path:
        return demo_input(sample_rate)
    from core.audio.io import load_audio

    return load_audio(path, sample_rate)


def take_screenshot(path: str, seconds: float = 2.5, settings_path: str | None = None,
                    simulate: str | None = None, window=None, compute_device: str | None = None,
                    engine_in_process: bool = False) -> Path:
    """Run the window against the simulator for `seconds`, then save a PNG of it."""
    from PyQt6.QtCore import QEventLoop, QTimer

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise UserError(f"--screenshot needs a .png path, got '{path}'")
    if not out.parent.exists():
        raise UserError(f"folder does not exist: {out.parent}")
    app = get_app()
    if window is None:
        window = build_window(settings_path, load_simulation_input(simulate, 48000), _SimulatorDevices(),
                              compute_device, own_process=not engine_in_process)
    window.show()
    window.model_loader.wait()  # the picture shows the chosen model running, not a load in progress
    app.processEvents()
    window.controller.start()
    started = time.monotonic()  # the engine starts off the GUI thread (model preparation, compute estimate)
    while not window.controller.running and window.controller.busy and time.monotonic() - started < STARTUP_WAIT_S:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)  # then `seconds` of running: a picture of steady state
    loop.exec()
    app.processEvents()
    image = window.grab()
    window.controller.shutdown()
    tmp = out.with_name(out.stem + ".tmp.png")
    if not image.save(str(tmp), "PNG"):
        raise UserError(f"could not write {out}")
    os.replace(tmp, out)
    window.close()
    return out


class _SimulatorDevices:
    """What the audio panel shows when the engine runs on the simulator rather than a sound card."""

    def host_apis(self) -> list[str]:
        return ["Simulator"]

    def devices(self) -> list:
        from realtime.devices import DeviceInfo

        return [DeviceInfo(0, "Simulated input (demo phrase)", "Simulator", 1, 0, 48000.0, True, False),
                DeviceInfo(1, "Simulated output", "Simulator", 0, 2, 48000.0, False, True)]

    def check_rate(self, device, rate: int, kind: str) -> str | None:
        return None
