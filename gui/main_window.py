"""The main window: panels on the left, the live view on the right, messages and a status bar."""

from __future__ import annotations

from dataclasses import replace

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QInputDialog, QLabel, QMainWindow,
                             QPushButton, QScrollArea, QSplitter, QStatusBar, QVBoxLayout, QWidget)

from core.errors import UserError
from gui.controller import EngineController, ModelLoader
from gui.panels.audio import AudioPanel, DeviceSource
from gui.panels.performance import PerformancePanel
from gui.panels.transport import TransportPanel
from gui.panels.voice import VoicePanel
from gui.plots import LiveView
from gui.settings import GuiSettings, SettingsStore
from gui.shortcuts import install_shortcuts

MAX_MESSAGES = 4


class MainWindow(QMainWindow):
    def __init__(self, controller: EngineController, store: SettingsStore, model_loader: ModelLoader,
                 device_source: DeviceSource | None = None, show_audio: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("CoMoSVC Live")
        self.controller, self.store, self.model_loader = controller, store, model_loader
        settings = controller.settings
        self._messages: list[str] = []
        self._singer_medians_hz: dict[str, float] = {}  # the loaded model's, for the F0 plot's range band

        self.transport = TransportPanel()
        self.audio = AudioPanel(settings, device_source)
        self.audio.setVisible(show_audio)
        self.voice = VoicePanel(settings)
        self.performance = PerformancePanel(settings)
        self.user_presets = self._build_user_presets()
        self.live = LiveView()
        self.message_area = QLabel("")
        self.message_area.setObjectName("messageArea")
        self.message_area.setWordWrap(True)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.transport)
        for panel in (self.audio, self.voice, self.performance, self.user_presets):
            left_layout.addWidget(panel)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(left.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.live)
        splitter.setStretchFactor(1, 1)
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.addWidget(splitter, 1)
        central_layout.addWidget(self.message_area)
        self.setCentralWidget(central)
        self._build_status_bar()
        controller.update_settings(model=self.voice.model_path())  # the default model, preselected
        self._connect()
        self._install_shortcuts()
        self.model_loader.load(self.voice.model_path())  # off the GUI thread: lists the singers before Start
        self.transport.show_running(False)
        self.resize(1400, 860)

    # ---- construction ---------------------------------------------------------------------------------
    def _build_user_presets(self) -> QGroupBox:
        box = QGroupBox("My presets")
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(self.store.preset_names())
        self.save_preset_button = QPushButton("Save as…")
        self.load_preset_button = QPushButton("Load")
        row = QHBoxLayout(box)
        row.addWidget(self.preset_combo, 1)
        row.addWidget(self.load_preset_button)
        row.addWidget(self.save_preset_button)
        self.save_preset_button.clicked.connect(self._ask_preset_name)
        self.load_preset_button.clicked.connect(lambda: self.load_named_preset(self.preset_combo.currentText()))
        return box

    def _build_status_bar(self) -> None:
        bar = QStatusBar()
        self.state_label = QLabel("stopped")
        self.latency_label = QLabel("latency –")
        self.compute_label = QLabel("compute –")
        self.xrun_label = QLabel("xruns 0")
        self.cpu_label = QLabel("CPU –")
        self.converter_label = QLabel("")
        for label in (self.state_label, self.latency_label, self.compute_label, self.xrun_label, self.cpu_label):
            label.setObjectName("bigValue")
            bar.addPermanentWidget(label)  # permanent: transient notices must not hide the figures
        bar.addPermanentWidget(self.converter_label)
        self.setStatusBar(bar)

    def _connect(self) -> None:
        c = self.controller
        self.transport.start_button.toggled.connect(lambda _on: c.toggle())
        self.transport.bypass_button.toggled.connect(c.set_bypass)
        self.transport.record_button.toggled.connect(self._record_toggled)
        self.voice.singer_changed.connect(c.set_singer)
        self.voice.singer_changed.connect(self._show_singer_range)
        self.voice.pitch_changed.connect(c.set_pitch)
        self.voice.auto_transpose_changed.connect(c.set_auto_transpose)
        self.voice.retrieval_changed.connect(c.set_retrieval)
        self.voice.latent_scale_changed.connect(c.set_latent_scale)
        self.voice.f0_method_changed.connect(c.set_f0_method)
        self.voice.model_chosen.connect(self._model_chosen)
        self.performance.gate_changed.connect(c.set_gate_threshold)
        self.performance.input_gain_changed.connect(c.set_input_gain)
        self.performance.output_gain_changed.connect(c.set_output_gain)
        self.performance.compute_device_changed.connect(self._compute_device_chosen)
        self.performance.preset_changed.connect(self._preset_changed)
        self.audio.changed.connect(self._audio_changed)
        self.audio.problem.connect(self.show_message)
        c.running_changed.connect(self._running_changed)
        c.busy_changed.connect(self.transport.show_busy)
        c.recording_changed.connect(self.transport.show_recording)
        c.snapshot_ready.connect(self._show_snapshot)
        c.singers_changed.connect(lambda names: self.voice.set_singers(names, c.settings.singer))
        c.error.connect(self.show_message)
        c.info.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.model_loader.failed.connect(self.show_message)
        self.model_loader.loaded.connect(self._model_loaded)

    def _install_shortcuts(self) -> None:
        bindings = (("Space", self.transport.start_button.click), ("B", self.transport.bypass_button.click),
                    ("R", self.transport.record_button.click), ("Up", lambda: self.voice.nudge_pitch(1)),
                    ("Down", lambda: self.voice.nudge_pitch(-1)), ("Shift+Up", lambda: self.voice.nudge_pitch(12)),
                    ("Shift+Down", lambda: self.voice.nudge_pitch(-12)))
        self.shortcuts = install_shortcuts(self, bindings)

    # ---- reactions ---------------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        """Errors and warnings stay visible in the window (the newest few), the app keeps running."""
        if text in self._messages[-1:]:
            return
        self._messages = (self._messages + [text])[-MAX_MESSAGES:]
        self.message_area.setText("\n".join(f"⚠ {m}" for m in self._messages))

    def messages(self) -> list[str]:
        return list(self._messages)

    def _running_changed(self, running: bool) -> None:
        self.transport.show_running(running)
        self.state_label.setText("● LIVE" if running else "stopped")
        self.state_label.setStyleSheet("color: #2ecc71;" if running else "")
        if running:
            self.controller.set_bypass(self.transport.bypass_button.isChecked())

    def _record_toggled(self, on: bool) -> None:
        if not on:
            self.controller.stop_recording()
            return
        folder = self.controller.settings.record_folder
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Record into folder") or ""
            if not folder:
                self.transport.show_recording(False)
                return
            self.controller.update_settings(record_folder=folder)
        self.controller.start_recording(folder)

    def _audio_changed(self, values: dict) -> None:
        before = self.controller.settings
        if values.get("monitor_gain_db", before.monitor_gain_db) != before.monitor_gain_db:
            self.controller.set_monitor_gain(values["monitor_gain_db"])  # the monitor's gain changes live
        self.controller.update_settings(**values)
        changed = {k for k, v in values.items() if getattr(before, k, v) != v} - {"monitor_gain_db"}
        if self.controller.running and changed:
            self.statusBar().showMessage("audio settings take effect at the next Start", 4000)

    def _preset_changed(self, values: dict) -> None:
        self.controller.update_settings(**values)
        self.controller.apply_preset()

    def _model_chosen(self, path: str) -> None:
        self.statusBar().showMessage(f"loading {path or 'the stand-in converter'} …")
        self.model_loader.load(path)

    def _compute_device_chosen(self, name: str) -> None:
        """Reload the current model on the chosen device (a running engine swaps to it when it is ready)."""
        self.controller.update_settings(compute_device=name)
        self.statusBar().showMessage(f"loading the model on {name} …")
        self.model_loader.load(self.controller.settings.model)

    def _model_loaded(self, converter, path: str) -> None:
        self.controller.update_settings(model=path)
        self.controller.preloaded = (path, converter)
        self._singer_medians_hz = dict(getattr(converter, "singer_medians_hz", None) or {})
        self.voice.set_singers(list(converter.singers), self.controller.settings.singer)
        self._show_singer_range(self.voice.singer.currentText())
        self.voice.set_retrieval_available(bool(getattr(converter, "retrieval_available", False)))
        self.voice.set_own_latent_scale(getattr(converter, "own_latent_scale", None))
        if self.controller.engine is not None:
            self.controller.engine.swap_converter(converter)
        self.statusBar().showMessage(f"model ready: {converter.description}", 4000)

    def _show_singer_range(self, singer: str) -> None:
        self.live.show_singer_range(self._singer_medians_hz.get(singer))

    def _show_snapshot(self, snap) -> None:
        self.live.show_snapshot(snap)
        self.performance.show_input_level(snap.input_level_db, snap.gate_open)
        total = snap.latency_ms + snap.device_latency_ms
        self.latency_label.setText(f"latency {total:.0f} ms ({snap.latency_ms:.0f} + {snap.device_latency_ms:.0f} "
                                   "device)")
        self.compute_label.setText(f"compute p50 {snap.compute_p50_ms:.1f} / p99 {snap.compute_p99_ms:.1f} ms "
                                   f"of {snap.block_ms:.0f}")
        self.xrun_label.setText(f"xruns {snap.xruns}")
        self.xrun_label.setStyleSheet("color: #e74c3c;" if snap.xruns else "")
        self.cpu_label.setText(f"CPU {100 * snap.cpu_load:.0f}%")
        self.converter_label.setText(getattr(snap, "converter", ""))

    # ---- presets and persistence -----------------------------------------------------------------------
    def _ask_preset_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:")
        if ok:
            self.save_named_preset(name)

    def save_named_preset(self, name: str) -> None:
        try:
            self.store.save_preset(name, self.controller.settings)
        except (UserError, OSError) as exc:
            self.show_message(f"cannot save the preset: {exc}")
            return
        self.preset_combo.clear()
        self.preset_combo.addItems(self.store.preset_names())
        self.preset_combo.setCurrentText(name.strip())

    def load_named_preset(self, name: str) -> None:
        if not name:
            return
        try:
            loaded = self.store.load_preset(name)
        except UserError as exc:
            self.show_message(str(exc))
            return
        self.apply_settings(loaded)

    def apply_settings(self, s: GuiSettings) -> None:
        """Set the live controls from `s` (each widget's signal carries the value to the engine)."""
        if self.voice.singer.findText(s.singer) >= 0:
            self.voice.singer.setCurrentText(s.singer)
        self.voice.set_pitch(s.pitch)
        self.voice.auto_transpose.setChecked(s.auto_transpose)
        self.voice.retrieval.setValue(s.retrieval)
        self.voice.latent_scale.setValue(s.latent_scale)
        self.voice.f0_method.setCurrentText(s.f0_method)
        self.performance.gate.setValue(round(s.gate_db))
        self.performance.input_gain.setValue(s.input_gain_db)
        self.performance.output_gain.setValue(s.output_gain_db)
        self.performance.compute_device.setCurrentText(s.compute_device)  # a change reloads the model
        self.performance.preset.blockSignals(True)
        self.performance.preset.setCurrentText(s.preset)
        self.performance.preset.blockSignals(False)
        for field, spin in self.performance.advanced.items():
            spin.setValue(getattr(s, field))
        self.controller.update_settings(**self.performance.values())
        self.controller.apply_preset()

    def save_settings(self) -> None:
        try:
            self.store.save(replace(self.controller.settings, **self.audio.values()))
        except OSError as exc:
            self.show_message(f"cannot save settings: {exc}")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.save_settings()
        self.controller.shutdown()
        self.model_loader.wait()
        super().closeEvent(event)
