"""Voice panel: model file, singer, pitch shift (slider + spin box, quick +-12), auto-transpose, feature
retrieval, the student's noise scale, F0 method."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                             QPushButton, QSlider, QWidget)

from core.features.pitch import PITCH_METHODS, PITCH_SHIFT_LIMIT
from gui.settings import LATENT_SCALE_MAX, LATENT_SCALE_MODEL_OWN, GuiSettings

PITCH_RANGE = PITCH_SHIFT_LIMIT
PITCH_STEP = 0.1
NO_MODEL = "no model found (stand-in converter)"
STAND_IN = "stand-in converter (no model)"
PRESET_F0 = "as the preset says"  # the F0 choice that follows the performance preset
RETRIEVAL_STEP = 0.05
RETRIEVAL_TIP = ("Feature retrieval: blend the sung content this far toward the content of the singer's own "
                 "recordings (0 = off); it costs some articulation")
RETRIEVAL_OFF_TIP = "This model has no retrieval index ('comosvc index MODEL CACHE' adds one)"
LATENT_SCALE_STEP = 0.05
LATENT_SCALE_TIP = ("Noise scale: how much of the one-step student's starting noise it samples (a temperature). "
                    "Lower is smoother and cleaner, a little less like the singer; 1 is the paper's")
LATENT_SCALE_OFF_TIP = "The stand-in converter has no student to sample"


def find_models() -> tuple[list[Path], Path | None]:
    """Model files the app knows of and the default one (None where there is none yet)."""
    try:
        from core.models import default_model_path, list_models
    except ImportError:
        return [], None
    models, _problems = list_models()
    return [m.path for m in models], default_model_path()


class VoicePanel(QGroupBox):
    model_chosen = pyqtSignal(str)      # path, "" for the stand-in
    singer_changed = pyqtSignal(str)
    pitch_changed = pyqtSignal(float)
    auto_transpose_changed = pyqtSignal(bool)
    retrieval_changed = pyqtSignal(float)
    latent_scale_changed = pyqtSignal(float)  # LATENT_SCALE_MODEL_OWN: the model's own
    f0_method_changed = pyqtSignal(str)

    def __init__(self, settings: GuiSettings, parent: QWidget | None = None) -> None:
        super().__init__("Voice", parent)
        self.model = QComboBox()
        self.model.setMinimumContentsLength(18)
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.browse = QPushButton("…")
        self.browse.setToolTip("Choose a model file (.safetensors)")
        self.singer = QComboBox()
        self.pitch_slider = QSlider(Qt.Orientation.Horizontal)
        self.pitch_slider.setRange(int(-PITCH_RANGE / PITCH_STEP), int(PITCH_RANGE / PITCH_STEP))
        self.pitch_slider.setToolTip("Pitch shift in semitones (Up/Down: ±1, Shift+Up/Down: ±12)")
        self.pitch = QDoubleSpinBox(minimum=-PITCH_RANGE, maximum=PITCH_RANGE, singleStep=PITCH_STEP, decimals=1,
                                    suffix=" st")
        self.pitch.setToolTip(self.pitch_slider.toolTip())
        self.octave_down = QPushButton("−12")
        self.octave_up = QPushButton("+12")
        self.octave_down.setToolTip("One octave down (Shift+Down)")
        self.octave_up.setToolTip("One octave up (Shift+Up)")
        self.auto_transpose = QCheckBox("Auto-transpose to the singer's range")
        self.retrieval = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=RETRIEVAL_STEP, decimals=2)
        self.set_retrieval_available(False)  # until a model with an index is loaded
        # its lowest value is not a scale but "the model's own", shown as the model's figure
        self.latent_scale = QDoubleSpinBox(minimum=LATENT_SCALE_MODEL_OWN, maximum=LATENT_SCALE_MAX,
                                           singleStep=LATENT_SCALE_STEP, decimals=2)
        self.set_own_latent_scale(None)  # until a model is loaded
        self.f0_method = QComboBox()
        self.f0_method.addItem(PRESET_F0, "")
        for method in PITCH_METHODS:
            self.f0_method.addItem(method, method)
        self.f0_method.setToolTip("Pitch tracker: each preset names one its block can afford (DIO is cheapest)")

        form = QFormLayout(self)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.browse)
        form.addRow("Model", model_row)
        form.addRow("Singer", self.singer)
        pitch_row = QHBoxLayout()
        pitch_row.addWidget(self.octave_down)
        pitch_row.addWidget(self.pitch_slider, 1)
        pitch_row.addWidget(self.octave_up)
        pitch_row.addWidget(self.pitch)
        form.addRow("Pitch", pitch_row)
        form.addRow("", self.auto_transpose)
        form.addRow("Retrieval", self.retrieval)
        form.addRow("Noise scale", self.latent_scale)
        form.addRow("F0 method", self.f0_method)

        self._fill_models(settings.model)
        self.set_singers([settings.singer] if settings.singer else [], settings.singer)
        self.set_pitch(settings.pitch)
        self.auto_transpose.setChecked(settings.auto_transpose)
        self.retrieval.setValue(settings.retrieval)
        self.latent_scale.setValue(settings.latent_scale)
        index = self.f0_method.findData(settings.f0_method)
        self.f0_method.setCurrentIndex(max(index, 0))

        self.pitch_slider.valueChanged.connect(lambda v: self.pitch.setValue(v * PITCH_STEP))
        self.pitch.valueChanged.connect(self._pitch_from_spin)
        self.octave_down.clicked.connect(lambda: self.nudge_pitch(-12))
        self.octave_up.clicked.connect(lambda: self.nudge_pitch(12))
        self.singer.currentTextChanged.connect(lambda name: name and self.singer_changed.emit(name))
        self.auto_transpose.toggled.connect(self.auto_transpose_changed)
        self.retrieval.valueChanged.connect(lambda v: self.retrieval_changed.emit(round(v, 2)))
        self.latent_scale.valueChanged.connect(lambda v: self.latent_scale_changed.emit(round(v, 2)))
        self.f0_method.currentIndexChanged.connect(lambda _i: self.f0_method_changed.emit(self.f0_method.currentData()))
        self.model.activated.connect(lambda _i: self.model_chosen.emit(self.model_path()))
        self.browse.clicked.connect(self._browse)

    def _fill_models(self, chosen: str) -> None:
        paths, default = find_models()
        self.model.clear()
        for path in paths:
            label = f"{path.stem} (default)" if default is not None and path == default else path.stem
            self.model.addItem(label, str(path))
        if chosen and self.model.findData(chosen) < 0 and Path(chosen).is_file():
            self.model.addItem(Path(chosen).stem, chosen)
        # the stand-in is always offered: the way back to a working engine when a model will not load
        self.model.addItem(NO_MODEL if self.model.count() == 0 else STAND_IN, "")
        wanted = chosen or (str(default) if default else "")
        self.model.setCurrentIndex(max(self.model.findData(wanted), 0))

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", "Model files (*.safetensors)")
        if path:
            self._fill_models(path)
            self.model_chosen.emit(path)

    def model_path(self) -> str:
        return str(self.model.currentData() or "")

    def set_singers(self, names: list[str], keep: str = "") -> None:
        current = keep or self.singer.currentText()
        self.singer.blockSignals(True)
        self.singer.clear()
        self.singer.addItems(names)
        index = self.singer.findText(current)
        self.singer.setCurrentIndex(index if index >= 0 else 0)
        self.singer.blockSignals(False)
        if self.singer.currentText() and self.singer.currentText() != current:
            self.singer_changed.emit(self.singer.currentText())

    def set_retrieval_available(self, available: bool) -> None:
        """Only a model with a retrieval index can use the control; the value is kept either way."""
        self.retrieval.setEnabled(available)
        self.retrieval.setToolTip(RETRIEVAL_TIP if available else RETRIEVAL_OFF_TIP)

    def set_own_latent_scale(self, own: float | None) -> None:
        """The loaded model's own scale, shown as the control's lowest value; None: no student (the stand-in).
        The value is kept either way."""
        self.latent_scale.setEnabled(own is not None)
        self.latent_scale.setSpecialValueText("model's own" if own is None else f"model's own ({own:.2f})")
        self.latent_scale.setToolTip(LATENT_SCALE_TIP if own is not None else LATENT_SCALE_OFF_TIP)

    def _pitch_from_spin(self, value: float) -> None:
        self.pitch_slider.blockSignals(True)
        self.pitch_slider.setValue(round(value / PITCH_STEP))
        self.pitch_slider.blockSignals(False)
        self.pitch_changed.emit(round(value, 1))

    def set_pitch(self, semitones: float) -> None:
        self.pitch.setValue(max(-PITCH_RANGE, min(PITCH_RANGE, semitones)))

    def nudge_pitch(self, semitones: float) -> None:
        self.set_pitch(self.pitch.value() + semitones)
