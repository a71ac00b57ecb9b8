"""`comosvc features` and `comosvc devices` through the CLI entry point."""

import json
import sys
import types

import numpy as np
import pytest
import soundfile as sf

from cli.main import main

SR = 24000
AMPLITUDES = [0.3 / k for k in range(1, 11)]


@pytest.fixture
def tone_file(tmp_path):
    # A harmonic tone (Harvest, unlike DIO, calls a bare sine unvoiced).
    t = np.arange(SR) / SR
    audio = sum(AMPLITUDES[k - 1] * np.sin(2 * np.pi * 220.0 * k * t) for k in range(1, len(AMPLITUDES) + 1))
    path = tmp_path / "tone.flac"
    sf.write(str(path), np.stack([audio, audio], axis=1), SR)
    return path


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out)


def test_features_json_reports_pitch_and_loudness(tone_file, capsys):
    assert main(["features", str(tone_file), "--json"]) == 0
    report = _json(capsys)
    n = SR // 128
    assert report["method"] == "dio"
    assert report["frame_rate"] == pytest.approx(187.5)
    assert report["duration_s"] == pytest.approx(1.0)
    assert len(report["f0_hz"]) == len(report["voiced"]) == len(report["loudness"]) == n
    assert report["median_f0_hz"] == pytest.approx(220.0, rel=0.01)
    assert sum(report["voiced"]) > 0.9 * n
    assert all(f == 0 for f, v in zip(report["f0_hz"], report["voiced"]) if not v)
    expected_rms = np.sqrt(sum(a ** 2 / 2 for a in AMPLITUDES))
    assert np.median(report["loudness"]) == pytest.approx(expected_rms, rel=0.05)


def test_features_text_summary_and_method_choice(tone_file, capsys):
    assert main(["features", str(tone_file), "--f0", "harvest"]) == 0
    out = capsys.readouterr().out
    assert "harvest" in out and "A3" in out and "dBFS" in out


def test_silence_is_not_an_error(tmp_path, capsys):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(SR // 2), SR)
    assert main(["features", str(path)]) == 0
    assert "no voiced frames" in capsys.readouterr().out
    assert main(["features", str(path), "--json"]) == 0
    report = _json(capsys)
    assert report["median_f0_hz"] is None and not any(report["voiced"])


@pytest.mark.parametrize("content", [None, b"", b"garbage, not audio" * 20])
def test_bad_files_give_one_line_and_nonzero_exit(tmp_path, capsys, content):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    assert main(["features", str(path)]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("comosvc features: error:")
    assert "Traceback" not in captured.err


def test_empty_audio_file(tmp_path, capsys):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0), SR)
    assert main(["features", str(path)]) != 0
    assert "0 samples" in capsys.readouterr().err


def test_plot_is_written(tone_file, tmp_path, capsys):
    out = tmp_path / "plots" / "f0.png"
    assert main(["features", str(tone_file), "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["f0.png"]


def test_plot_bad_extension_rejected_before_work(tone_file, tmp_path, capsys):
    assert main(["features", str(tone_file), "--plot", str(tmp_path / "f0.txt")]) != 0
    assert "--plot" in capsys.readouterr().err
    assert not (tmp_path / "f0.txt").exists()


def _fake_sounddevice() -> types.ModuleType:
    fake = types.ModuleType("sounddevice")

    class PortAudioError(Exception):
        pass

    fake.PortAudioError = PortAudioError
    fake.get_portaudio_version = lambda: (1, "PortAudio fake")
    fake.query_hostapis = lambda: (
        {"name": "ALSA", "devices": [0, 1], "default_input_device": 0, "default_output_device": 1},
        {"name": "JACK", "devices": [2], "default_input_device": 2, "default_output_device": 2},
    )
    fake.query_devices = lambda: [
        {"name": "mic", "hostapi": 0, "max_input_channels": 2, "max_output_channels": 0, "default_samplerate": 48000.0},
        {"name": "speakers", "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2, "default_samplerate": 44100.0},
        {"name": "jack", "hostapi": 1, "max_input_channels": 8, "max_output_channels": 8, "default_samplerate": 48000.0},
    ]
    fake.default = types.SimpleNamespace(device=[0, 1])
    return fake


def test_devices_json_lists_devices_and_defaults(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice())
    assert main(["devices", "--json"]) == 0
    info = _json(capsys)
    assert [a["name"] for a in info["host_apis"]] == ["ALSA", "JACK"]
    assert [d["name"] for d in info["devices"]] == ["mic", "speakers", "jack"]
    jack = info["devices"][2]
    assert jack["host_api"] == "JACK" and jack["max_input_channels"] == 8 and jack["default_samplerate"] == 48000.0
    assert info["default_input"] == 0 and info["default_output"] == 1
    assert [d["default_input"] for d in info["devices"]] == [True, False, False]
    assert [d["default_output"] for d in info["devices"]] == [False, True, False]


def test_devices_text(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice())
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "speakers" in out and "[JACK]" in out and "in 8, out 8" in out


def test_devices_on_this_machine_do_not_crash(capsys):
    pytest.importorskip("sounddevice")
    assert main(["devices", "--json"]) == 0
    assert "devices" in _json(capsys)


def test_devices_without_portaudio_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import now fails as if PortAudio were missing
    assert main(["devices"]) != 0
    err = capsys.readouterr().err
    assert "PortAudio is not available" in err and "Traceback" not in err
