"""A dark stage theme: high contrast, large readable labels, one accent colour."""

from __future__ import annotations

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

ACCENT = "#3daee9"
RUNNING = "#2ecc71"
WARNING = "#e67e22"
DANGER = "#e74c3c"

STYLESHEET = f"""
QWidget {{ font-size: 10pt; }}
QGroupBox {{ border: 1px solid #3a3f44; border-radius: 6px; margin-top: 14px; padding-top: 6px; font-weight: bold; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {ACCENT}; }}
QPushButton {{ background: #2d3136; border: 1px solid #454b52; border-radius: 5px; padding: 6px 12px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked {{ background: #1f5f86; border-color: {ACCENT}; }}
QPushButton#startButton {{ font-size: 13pt; font-weight: bold; min-height: 34px; }}
QPushButton#startButton:checked {{ background: #1e7a46; border-color: {RUNNING}; }}
QPushButton#recordButton:checked {{ background: #8e2a22; border-color: {DANGER}; }}
QPushButton#bypassButton:checked {{ background: #8a5a12; border-color: {WARNING}; }}
QLabel#messageArea {{ color: {WARNING}; padding: 4px; }}
QLabel#bigValue {{ font-size: 12pt; font-weight: bold; }}
QStatusBar QLabel {{ padding: 0 8px; }}
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#1e2124", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#15171a", QPalette.ColorRole.AlternateBase: "#24282c",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#2d3136",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#000000", QPalette.ColorRole.ToolTipBase: "#2d3136",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8f94",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6b7075"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6b7075"))
    app.setPalette(palette)
    app.setStyleSheet(STYLESHEET)
