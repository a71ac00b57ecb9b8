"""Transport: Start/Stop, Bypass, Record (each with a keyboard shortcut shown in its tooltip)."""

from __future__ import annotations

from PyQt6.QtWidgets import QHBoxLayout, QPushButton, QWidget

SHORTCUTS = {"start": "Space", "bypass": "B", "record": "R"}


class TransportPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QPushButton("▶  Start")
        self.start_button.setObjectName("startButton")
        self.start_button.setCheckable(True)
        self.start_button.setToolTip(f"Start / stop the live conversion ({SHORTCUTS['start']})")
        self.bypass_button = QPushButton("Bypass (dry)")
        self.bypass_button.setObjectName("bypassButton")
        self.bypass_button.setCheckable(True)
        self.bypass_button.setToolTip(f"Pass the dry input through, latency-aligned ({SHORTCUTS['bypass']})")
        self.record_button = QPushButton("●  Record")
        self.record_button.setObjectName("recordButton")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip(f"Record input.wav and output.wav while live ({SHORTCUTS['record']})")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.start_button, 2)
        layout.addWidget(self.bypass_button, 1)
        layout.addWidget(self.record_button, 1)

    def show_running(self, running: bool) -> None:
        self.start_button.blockSignals(True)
        self.start_button.setChecked(running)
        self.start_button.blockSignals(False)
        self.start_button.setText("■  Stop" if running else "▶  Start")
        self.record_button.setEnabled(running)
        if not running:
            self.show_recording(False)

    def show_busy(self, busy: bool) -> None:
        self.start_button.setEnabled(not busy)
        if busy:
            self.start_button.setText("…")

    def show_recording(self, recording: bool) -> None:
        self.record_button.blockSignals(True)
        self.record_button.setChecked(recording)
        self.record_button.blockSignals(False)
