"""`comosvc simulate` end to end, and its one-line errors."""

import json

import numpy as np
import soundfile as sf

from cli.main import main


def _tone(path, seconds=2.0, rate=48000):
    t = np.arange(int(seconds * rate)) / rate
    x = (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    sf.write(path, x, rate)


def test_simulate_json_report_and_output(tmp_path, capsys):
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    _tone(src)
    code = main(["simulate", str(src), "--preset", "balanced", "--pitch", "-2.5", "--stall", "120@1.0",
                 "--jitter", "1", "-o", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("block_ms", "latency_ms", "compute_p50_ms", "compute_p99_ms", "compute_max_ms", "xruns",
                "offline_logmel_distance"):
        assert isinstance(report[key], (int, float)), key
    assert report["block_ms"] == 40.0 and report["xruns"] > 0  # the stall cost some callbacks
    assert report["compute_max_ms"] >= report["compute_p99_ms"] >= report["compute_p50_ms"] > 0
    written, rate = sf.read(out)
    assert rate == 48000 and len(written) >= 2 * 48000 and np.all(np.isfinite(written))


def test_simulate_errors_are_one_line(tmp_path, capsys):
    src = tmp_path / "in.wav"
    _tone(src, 0.5)
    assert main(["simulate", str(src), "--preset", "nope"]) == 2
    assert main(["simulate", str(src), "--stall", "lots"]) == 2
    assert main(["simulate", str(tmp_path / "missing.wav")]) == 2
    assert main(["simulate", str(src), "--model", "x.safetensors"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("comosvc simulate: error:") for line in err)
    assert "Traceback" not in "".join(err)


def test_auto_octave_reaches_the_engine_in_simulate_and_live(tmp_path, capsys, monkeypatch):
    from cli.commands.simulate import controls_from_args
    from convert_fixtures import build_tiny_model
    from realtime.engine import Engine

    model, src = tmp_path / "tiny.safetensors", tmp_path / "in.wav"
    build_tiny_model(model)
    _tone(src, 1.0)
    applied = []
    original = Engine.set_auto_transpose
    monkeypatch.setattr(Engine, "set_auto_transpose", lambda self, on: (applied.append(on), original(self, on)))
    assert main(["simulate", str(src), "--model", str(model), "--singer", "alto", "--auto-octave", "--json"]) == 0
    assert applied == [True]
    capsys.readouterr()
    # live builds its controls with the same function
    import argparse
    parsed = argparse.Namespace(pitch=0.0, singer=None, f0_method=None, retrieval=0.0, auto_octave=False)
    assert "auto_transpose" not in controls_from_args(parsed)
