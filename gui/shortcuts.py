"""The window's keyboard shortcuts, working whichever control has focus.

Qt asks the focused widget first (a ShortcutOverride event) whether it wants a
key for itself. A number field's text editor claims every printable key, so
with the pitch or gate field focused, Space (Start/Stop), B and R never
reached their shortcuts. Letters and spaces mean nothing in a number field:
`NumberFieldKeyGuard` declines them on the field's behalf so the shortcut
fires. Up/Down are window shortcuts that Qt already gives precedence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import QAbstractSpinBox, QWidget


class NumberFieldKeyGuard(QObject):
    """Event filter for number fields: lets the window's plain-key shortcuts through."""

    def __init__(self, keys: Iterable[int], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.keys = set(keys)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in self.keys \
                and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            event.ignore()
            return True  # not the field's key: the shortcut takes it
        return False


def install_shortcuts(window: QWidget, bindings: Iterable[tuple[str, Callable[[], None]]]) -> list[QShortcut]:
    """Window-wide shortcuts; plain single keys also pass through focused number fields."""
    shortcuts, plain_keys = [], []
    for keys, action in bindings:
        shortcut = QShortcut(QKeySequence(keys), window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(action)
        shortcuts.append(shortcut)
        sequence = QKeySequence(keys)
        if sequence.count() == 1 and sequence[0].keyboardModifiers() == Qt.KeyboardModifier.NoModifier:
            plain_keys.append(sequence[0].key())
    guard = NumberFieldKeyGuard(k for k in plain_keys if k not in (Qt.Key.Key_Up, Qt.Key.Key_Down))
    guard.setParent(window)
    for field in window.findChildren(QAbstractSpinBox):
        field.installEventFilter(guard)
        if field.lineEdit() is not None:
            field.lineEdit().installEventFilter(guard)
    return shortcuts
