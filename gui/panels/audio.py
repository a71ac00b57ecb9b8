"""Audio panel: host API, input/output/monitor devices, sample rate (checked per device), device buffer."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                             QWidget)

from core.errors import UserError
from gui.settings import GuiSettings

SAMPLE_RATES = (44100, 48000, 88200, 96000)
DEVICE_BLOCKS = (64, 128, 256, 512, 1024)
DEFAULT_DEVICE = "(system default)"
NO_MONITOR = "(none)"


class DeviceSource:
    """What the panel asks about devices; the real one wraps realtime.devices (PortAudio)."""

    def host_apis(self) -> list[str]:
        from realtime.devices import list_host_apis

        return list_host_apis()

    def devices(self) -> list:
        from realtime.devices import list_devices

        return list_devices()

    def check_rate(self, device: str | None, rate: int, kind: str) -> str | None:
        from realtime.devices import check_rate

        return check_rate(device, rate, kind)


class AudioPanel(QGroupBox):
    changed = pyqtSignal(dict)          # settings fields that changed (take effect at the next start)
    problem = pyqtSignal(str)           # a device refused the rate, PortAudio missing, ...

    def __init__(self, settings: GuiSettings, source: DeviceSource | None = None, parent: QWidget | None = None):
        super().__init__("Audio", parent)
        self._source = source or DeviceSource()
        self._devices: list = []
        self.host_api = QComboBox()
        self.input_device = QComboBox()
        self.output_device = QComboBox()
        self.monitor_device = QComboBox()
        self.monitor_gain = QDoubleSpinBox(minimum=-60.0, maximum=12.0, singleStep=0.5, suffix=" dB")
        self.sample_rate = QComboBox()
        self.sample_rate.addItems([str(r) for r in SAMPLE_RATES])
        self.device_block = QComboBox()
        self.device_block.addItems([str(b) for b in DEVICE_BLOCKS])
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for audio devices again (after plugging one in)")
        self.rate_status = QLabel("")
        self.rate_status.setWordWrap(True)
        for combo in (self.input_device, self.output_device, self.monitor_device):
            combo.setMinimumContentsLength(18)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)

        form = QFormLayout(self)
        api_row = QHBoxLayout()
        api_row.addWidget(self.host_api, 1)
        api_row.addWidget(self.refresh_button)
        form.addRow("Host API", api_row)
        form.addRow("Input", self.input_device)
        form.addRow("Output", self.output_device)
        monitor_row = QHBoxLayout()
        monitor_row.addWidget(self.monitor_device, 1)
        monitor_row.addWidget(self.monitor_gain)
        form.addRow("Monitor", monitor_row)
        rate_row = QHBoxLayout()
        rate_row.addWidget(self.sample_rate)
        rate_row.addWidget(QLabel("Buffer"))
        rate_row.addWidget(self.device_block)
        form.addRow("Rate (Hz)", rate_row)
        form.addRow("", self.rate_status)

        self.refresh(settings)
        self.monitor_gain.setValue(settings.monitor_gain_db)
        self._select(self.sample_rate, str(settings.sample_rate))
        self._select(self.device_block, str(settings.device_block))
        self.refresh_button.clicked.connect(lambda: self.refresh(None))
        self.host_api.currentTextChanged.connect(self._fill_devices)
        for combo in (self.input_device, self.output_device, self.monitor_device, self.sample_rate,
                      self.device_block):
            combo.currentTextChanged.connect(self._emit_changed)
        self.monitor_gain.valueChanged.connect(self._emit_changed)

    @staticmethod
    def _select(combo: QComboBox, text: str) -> None:
        index = combo.findText(text)
        if index >= 0:
            combo.setCurrentIndex(index)

    def refresh(self, settings: GuiSettings | None) -> None:
        """Ask PortAudio again; keeps the current choices where they still exist."""
        wanted = settings or self.values_as_settings()
        try:
            apis = self._source.host_apis()
            self._devices = self._source.devices()
        except UserError as exc:
            apis, self._devices = [], []
            self.problem.emit(str(exc))
            self.rate_status.setText(str(exc))
        self.host_api.blockSignals(True)
        self.host_api.clear()
        self.host_api.addItems(apis)
        self._select(self.host_api, wanted.host_api)
        self.host_api.blockSignals(False)
        self._fill_devices()
        self._select(self.input_device, wanted.input_device or DEFAULT_DEVICE)
        self._select(self.output_device, wanted.output_device or DEFAULT_DEVICE)
        self._select(self.monitor_device, wanted.monitor_device or NO_MONITOR)

    def _fill_devices(self) -> None:
        api = self.host_api.currentText()
        on_api = [d for d in self._devices if not api or d.hostapi == api]
        fills = ((self.input_device, [d.name for d in on_api if d.max_input_channels > 0], DEFAULT_DEVICE),
                 (self.output_device, [d.name for d in on_api if d.max_output_channels > 0], DEFAULT_DEVICE),
                 (self.monitor_device, [d.name for d in on_api if d.max_output_channels > 0], NO_MONITOR))
        for combo, names, first in fills:
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([first, *names])
            self._select(combo, current)
            combo.blockSignals(False)

    def _device_value(self, combo: QComboBox, empty: str) -> str:
        text = combo.currentText()
        return "" if text in (empty, "") else text

    def values(self) -> dict:
        return {"host_api": self.host_api.currentText(),
                "input_device": self._device_value(self.input_device, DEFAULT_DEVICE),
                "output_device": self._device_value(self.output_device, DEFAULT_DEVICE),
                "monitor_device": self._device_value(self.monitor_device, NO_MONITOR),
                "monitor_gain_db": float(self.monitor_gain.value()),
                "sample_rate": int(self.sample_rate.currentText() or 48000),
                "device_block": int(self.device_block.currentText() or 256)}

    def values_as_settings(self) -> GuiSettings:
        return GuiSettings.from_dict(self.values())

    def validate_rate(self) -> str | None:
        """Ask each chosen device whether it takes the rate; the first refusal is shown and returned."""
        v = self.values()
        if not self._devices:
            return None
        checks = [(v["input_device"] or None, "input"), (v["output_device"] or None, "output")]
        if v["monitor_device"]:
            checks.append((v["monitor_device"], "output"))
        for device, kind in checks:
            try:
                message = self._source.check_rate(device, v["sample_rate"], kind)
            except UserError as exc:
                message = str(exc)
            if message:
                self.rate_status.setText(message)
                self.problem.emit(message)
                return message
        self.rate_status.setText(f"{v['sample_rate']} Hz accepted")
        return None

    def _emit_changed(self, *_args) -> None:
        self.validate_rate()
        self.changed.emit(self.values())
