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
