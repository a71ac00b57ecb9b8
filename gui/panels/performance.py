"""Performance panel: latency preset, advanced block fields, gate (with the live input level) and gains."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                             QSlider, QVBoxLayout, QWidget)

from gui.settings import GuiSettings
from gui.widgets import LevelMeter

ADVANCED_FIELDS = (("block_ms", "Block", 5.0, 500.0), ("crossfade_ms", "Crossfade", 0.0, 100.0),
                   ("lookahead_ms", "Lookahead", 0.0, 200.0), ("sola_search_ms", "SOLA window", 0.0, 50.0))


def preset_names() -> list[str]:
    from realtime.presets import available_presets

    return available_presets()


def preset_fields(name: str) -> dict:
    from realtime.presets import load_preset

    preset = load_preset(name)
    return {field: float(getattr(preset, field)) for field, *_ in ADVANCED_FIELDS}


def compute_device_names(current: str) -> list[str]:
    """The devices this machine offers, plus the saved choice even where it is missing (it then fails to load)."""
    from core.device import device_choices

    names = device_choices()
    return names if current in names or not current else names + [current]


class PerformancePanel(QGroupBox):
    preset_changed = pyqtSignal(dict)       # preset name + advanced fields
    gate_changed = pyqtSignal(float)
    input_gain_changed = pyqtSignal(float)
    output_gain_changed = pyqtSignal(float)
    compute_device_changed = pyqtSignal(str)

    def __init__(self, settings: GuiSettings, parent: QWidget | None = None) -> None:
        super().__init__("Performance", parent)
        self.preset = QComboBox()
        self.preset.addItems(preset_names())
        self.preset.setToolTip("low-latency: smallest delay, needs a fast CPU; safe: most headroom")
        self.advanced: dict[str, QDoubleSpinBox] = {}
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Apply the advanced block settings to the running engine")
        self.gate = QSlider(Qt.Orientation.Horizontal)
        self.gate.setRange(-90, 0)
        self.gate.setToolTip("Gate threshold: input below it is muted (the bar shows the live input level)")
        self.gate_label = QLabel()
        self.gate_label.setMinimumWidth(64)
        self.input_meter = LevelMeter()
        self.input_meter.setToolTip("Input level; the white tick is the gate threshold")
        self.input_gain = QDoubleSpinBox(minimum=-30.0, maximum=30.0, singleStep=0.5, suffix=" dB")
        self.output_gain = QDoubleSpinBox(minimum=-30.0, maximum=30.0, singleStep=0.5, suffix=" dB")
        self.compute_device = QComboBox()
        self.compute_device.addItems(compute_device_names(settings.compute_device))
        self.compute_device.setCurrentText(settings.compute_device)
        self.compute_device.setToolTip("Where the model runs: cpu, a CUDA GPU, or auto (the GPU when there is one); "
                                       "changing it reloads the model")

        layout = QVBoxLayout(self)
        form = QFormLayout()
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(self.apply_button)
        form.addRow("Preset", preset_row)
        grid = QHBoxLayout()
        for field, label, low, high in ADVANCED_FIELDS:
            spin = QDoubleSpinBox(minimum=low, maximum=high, singleStep=1.0, decimals=1, suffix=" ms")
            spin.setToolTip(f"{label} in milliseconds")
            spin.setValue(float(getattr(settings, field)))
            self.advanced[field] = spin
            column = QVBoxLayout()
            column.addWidget(QLabel(label))
            column.addWidget(spin)
            grid.addLayout(column)
        form.addRow(grid)
        gate_row = QHBoxLayout()
        gate_row.addWidget(self.gate, 1)
        gate_row.addWidget(self.gate_label)
        form.addRow("Gate", gate_row)
        form.addRow("Input level", self.input_meter)
        gains = QHBoxLayout()
        gains.addWidget(QLabel("In"))
        gains.addWidget(self.input_gain)
        gains.addWidget(QLabel("Out"))
        gains.addWidget(self.output_gain)
        form.addRow("Gain", gains)
        form.addRow("Compute", self.compute_device)
        layout.addLayout(form)

        index = self.preset.findText(settings.preset)
        self.preset.setCurrentIndex(max(index, 0))
        self.gate.setValue(round(settings.gate_db))
        self._show_gate(self.gate.value())
        self.input_gain.setValue(settings.input_gain_db)
        self.output_gain.setValue(settings.output_gain_db)

        self.preset.currentTextChanged.connect(self._load_preset)
        self.apply_button.clicked.connect(lambda: self.preset_changed.emit(self.values()))
        self.gate.valueChanged.connect(self._on_gate)
        self.input_gain.valueChanged.connect(self.input_gain_changed)
        self.output_gain.valueChanged.connect(self.output_gain_changed)
        self.compute_device.currentTextChanged.connect(self.compute_device_changed)

    def _load_preset(self, name: str) -> None:
        for field, value in preset_fields(name).items():
            self.advanced[field].setValue(value)
        self.preset_changed.emit(self.values())

    def _show_gate(self, db: int) -> None:
        self.gate_label.setText(f"{db} dB")
        self.input_meter.set_marker(float(db))

    def _on_gate(self, db: int) -> None:
        self._show_gate(db)
        self.gate_changed.emit(float(db))

    def values(self) -> dict:
        return {"preset": self.preset.currentText(), **{f: float(s.value()) for f, s in self.advanced.items()}}

    def show_input_level(self, db: float, gate_open: bool) -> None:
        self.input_meter.set_level(db, active=gate_open)
