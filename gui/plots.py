"""The live view: waveforms, F0 (input, shifted target, output, the singer's range), level meters and
compute time vs budget.

Fed only from EngineSnapshot objects (polled by the controller's timer), never from the audio callback.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from gui.output_f0 import output_f0
from gui.theme import ACCENT, DANGER, RUNNING, WARNING
from gui.widgets import LevelMeter

SCOPE_POINTS = 1200  # waveforms are decimated to this many min/max points before plotting
OUTPUT_F0_EVERY = 5  # frames between measurements of the output's F0 (~5 Hz at 25 fps)
# The band drawn around the singer's median F0. Within 5 semitones of it the default model's singer is
# recognised in 90 % of conversions of held-out voices, beyond 12 in 32 % (BENCHMARKS.md, session 55).
SINGER_RANGE_SEMITONES = 5.0
F0_TITLE = "F0 (Hz)"


def singer_range_hz(median_hz: float, semitones: float = SINGER_RANGE_SEMITONES) -> tuple[float, float]:
    """(low, high) Hz: `semitones` either side of a singer's median F0."""
    ratio = 2.0 ** (semitones / 12.0)
    return median_hz / ratio, median_hz * ratio


def decimate_envelope(wave: np.ndarray, points: int = SCOPE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x seconds-fraction, y) of a min/max envelope: cheap to draw, keeps the peaks visible."""
    n = len(wave)
    if n <= points:
        return np.arange(n, dtype=np.float32), np.asarray(wave, dtype=np.float32)
    per = n // (points // 2)
    usable = wave[: per * (n // per)].reshape(-1, per)
    y = np.empty(2 * len(usable), dtype=np.float32)
    y[0::2], y[1::2] = usable.min(axis=1), usable.max(axis=1)
    x = np.repeat(np.arange(len(usable), dtype=np.float32) * per, 2)
    return x, y


def _nan_unvoiced(f0: np.ndarray) -> np.ndarray:
    out = np.asarray(f0, dtype=np.float32).copy()
    out[out <= 0] = np.nan
    return out


class LiveView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="#15171a", foreground="#c8c8c8")
        self.scope = pg.PlotWidget(title="Input / output")
        self.scope.setYRange(-1, 1)
        self.scope.setMouseEnabled(False, False)
        self.scope.hideAxis("bottom")
        self.scope.addLegend(offset=(5, 5))
        self.in_curve = self.scope.plot(pen=pg.mkPen("#7f8c8d"), name="input")
        self.out_curve = self.scope.plot(pen=pg.mkPen(ACCENT), name="output")

        self.pitch = pg.PlotWidget(title=F0_TITLE)
        self.pitch.setLogMode(False, True)
        self.pitch.setYRange(np.log10(60), np.log10(1100))
        ticks = [(float(np.log10(hz)), f"{hz:g}") for hz in (62.5, 125, 250, 500, 1000)]
        self.pitch.getAxis("left").setTicks([ticks, []])
        self.pitch.setMouseEnabled(False, False)
        self.pitch.hideAxis("bottom")
        self.pitch.addLegend(offset=(5, 5))
        self.f0_target_curve = self.pitch.plot(pen=pg.mkPen(WARNING, width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
                                               name="target", connect="finite")
        self.f0_in_curve = self.pitch.plot(pen=pg.mkPen("#bdc3c7", width=2), name="input", connect="finite")
        self.f0_out_curve = self.pitch.plot(pen=pg.mkPen(ACCENT, width=2), name="output", connect="finite")
        # Where the chosen singer sounds most like themself; the y axis is log10 Hz.
        self.singer_range = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                                brush=pg.mkBrush(241, 196, 15, 40), pen=pg.mkPen(None))
        self.singer_range.setZValue(-10)
        self.singer_range.setToolTip(f"the singer's range: {SINGER_RANGE_SEMITONES:g} semitones either side of "
                                     "their median pitch; outside it the voice is less theirs")
        self.singer_range.hide()
        self.pitch.addItem(self.singer_range)

        self.compute = pg.PlotWidget(title="Compute per block (ms)")
        self.compute.setMouseEnabled(False, False)
        self.compute.hideAxis("bottom")
        self.compute_curve = self.compute.plot(pen=pg.mkPen(RUNNING), fillLevel=0, brush=(46, 204, 113, 60))
        self.budget_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(DANGER, width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.compute.addItem(self.budget_line)
        self.compute.setYRange(0, 50, padding=0)

        self.in_meter, self.out_meter = LevelMeter(), LevelMeter()
        self.in_db, self.out_db = QLabel("-∞ dB"), QLabel("-∞ dB")
        meters = QGridLayout()
        for row, (name, meter, label) in enumerate((("In", self.in_meter, self.in_db),
                                                     ("Out", self.out_meter, self.out_db))):
            meters.addWidget(QLabel(name), row, 0)
            meters.addWidget(meter, row, 1)
            label.setMinimumWidth(70)
            meters.addWidget(label, row, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scope, 3)
        layout.addWidget(self.pitch, 3)
        layout.addWidget(self.compute, 2)
        layout.addLayout(meters)
        self.frames_drawn = 0
        self._f0_out: np.ndarray | None = None

    def show_singer_range(self, median_hz: float | None) -> None:
        """Shade the singer's range on the F0 plot; None (a stand-in, an older model file) hides it."""
        if not median_hz or median_hz <= 0:
            self.singer_range.hide()
            self.pitch.setTitle(F0_TITLE)
            return
        low, high = singer_range_hz(float(median_hz))
        self.singer_range.setRegion((float(np.log10(low)), float(np.log10(high))))
        self.singer_range.show()
        self.pitch.setTitle(f"{F0_TITLE}; shaded: the singer's range, {low:.0f}-{high:.0f} Hz")

    def _measured_output_f0(self, snap) -> np.ndarray | None:
        """The output's F0, measured every OUTPUT_F0_EVERY frames (a few times a second)."""
        if self.frames_drawn % OUTPUT_F0_EVERY == 0 or self._f0_out is None \
                or len(self._f0_out) != len(snap.f0_target_hz):
            self._f0_out = output_f0(snap.output_wave, snap.sample_rate, len(snap.f0_target_hz))
        return self._f0_out

    def show_snapshot(self, snap) -> None:
        self.in_curve.setData(*decimate_envelope(snap.input_wave))
        self.out_curve.setData(*decimate_envelope(snap.output_wave))
        self.f0_in_curve.setData(_nan_unvoiced(snap.f0_in_hz))
        self.f0_target_curve.setData(_nan_unvoiced(snap.f0_target_hz))
        f0_out = snap.f0_out_hz if snap.f0_out_hz is not None else self._measured_output_f0(snap)
        if f0_out is not None:
            self.f0_out_curve.setData(_nan_unvoiced(f0_out))
        compute = np.asarray(snap.compute_ms, dtype=np.float32)
        self.compute_curve.setData(compute)
        self.budget_line.setPos(snap.block_ms)
        top = max(snap.block_ms * 1.25, float(compute.max()) * 1.1 if len(compute) else 0.0, 1.0)
        self.compute.setYRange(0, top, padding=0)
        self.in_meter.set_level(snap.input_level_db, active=snap.gate_open)
        self.out_meter.set_level(snap.output_level_db)
        self.in_db.setText(f"{snap.input_level_db:6.1f} dB")
        self.out_db.setText(f"{snap.output_level_db:6.1f} dB")
        self.frames_drawn += 1
