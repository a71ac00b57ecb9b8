"""Small custom widgets: a horizontal dBFS level meter with a threshold marker."""

from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -90.0


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level_db = FLOOR_DB
        self.marker_db: float | None = None
        self.active = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(200, 16)

    def set_level(self, db: float, active: bool = True) -> None:
        self.level_db, self.active = float(db), bool(active)
        self.update()

    def set_marker(self, db: float | None) -> None:
        self.marker_db = db
        self.update()

    @staticmethod
    def _fraction(db: float) -> float:
        return min(max((db - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        w, h = self.width(), self.height()
        painter.fillRect(0, 0, w, h, QColor("#15171a"))
        colour = "#e74c3c" if self.level_db > -3 else ("#2ecc71" if self.active else "#5d6d7e")
        painter.fillRect(QRectF(0, 2, w * self._fraction(self.level_db), h - 4), QColor(colour))
        if self.marker_db is not None:
            x = w * self._fraction(self.marker_db)
            painter.fillRect(QRectF(x - 1, 0, 2, h), QColor("#ffffff"))
        painter.end()
