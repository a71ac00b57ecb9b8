"""`comosvc gui`: bad arguments give one line and a non-zero exit, and nothing is written; its screenshot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from cli.main import main  # noqa: E402


@pytest.mark.parametrize("args, message", [
    (["--screenshot", "{tmp}/shot.jpg"], "needs a .png path"),
    (["--screenshot", "{tmp}/missing/shot.png"], "folder does not exist"),
    (["--screenshot", "{tmp}/shot.png", "--seconds", "0"], "--seconds must be between"),
])
def test_bad_screenshot_arguments(tmp_path, capsys, args, message):
    code = main(["gui", *[a.format(tmp=tmp_path) for a in args]])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.png"))


def test_screenshot_command_shows_the_running_window(tmp_path, capsys, monkeypatch):
    from PyQt6.QtGui import QImage

    monkeypatch.setenv("COMOSVC_GUI_SETTINGS", str(tmp_path / "gui.json"))
    # COMOSVC_TEST_SCREENSHOTS=DIR keeps the picture for a person to look at
    out = Path(os.environ.get("COMOSVC_TEST_SCREENSHOTS") or tmp_path) / "gui-window.png"
    assert main(["gui", "--screenshot", str(out), "--seconds", "1.5"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out
    image = QImage(str(out))
    assert image.width() >= 1000 and image.height() >= 600
    # a dark theme: the left edge is dark, and the window (its plots drawing) is not one flat colour
    assert image.pixelColor(2, image.height() // 2).lightness() < 80
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    assert len(colours) > 20


def test_no_display_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["gui"]) != 0
    assert "no display" in capsys.readouterr().err


def test_missing_simulation_input_writes_nothing(tmp_path, capsys):
    out = tmp_path / "shot.png"
    assert main(["gui", "--screenshot", str(out), "--simulate", str(tmp_path / "none.wav")]) != 0
    assert "not found" in capsys.readouterr().err and not out.exists()
