"""bench/bench_live_quality.py: a real simulate run per pair, DNSMOS of what it played, a bad run refused."""

from __future__ import annotations

import json
import sys

import pytest

from core.audio.io import save_audio
from tests.bench_scripts import load_bench
from tests.convert_fixtures import DNSMOS_ONE_WINDOW_SECONDS, build_tiny_model, sung_tone


def test_each_pair_is_played_by_simulate_and_scored(tmp_path, monkeypatch, capsys):
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(DNSMOS_ONE_WINDOW_SECONDS), 24000)
    monkeypatch.setattr(sys, "argv", ["bench_live_quality.py", "--sources", str(source), "--singers", "alto", "bass",
                                      "--presets", "safe", "--model", model.path, "--keep", str(tmp_path / "out"),
                                      "--json"])
    assert load_bench("bench_live_quality").main() == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert [(p["source"], p["singer"]) for p in result["pairs"]] == [("voice", "alto"), ("voice", "bass")]
    assert all(p["ovrl_ratio"] > 0 for p in result["pairs"])
    assert result["ovrl_ratio_min"] <= result["ovrl_ratio_mean"]
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["safe_voice_alto.wav", "safe_voice_bass.wav"]


def test_a_failed_simulate_stops_the_bench_with_its_message(tmp_path, monkeypatch):
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(1.0), 24000)
    monkeypatch.setattr(sys, "argv", ["bench_live_quality.py", "--sources", str(source), "--singers", "nobody",
                                      "--model", model.path])
    with pytest.raises(SystemExit, match="simulate failed.*nobody"):
        load_bench("bench_live_quality").main()


def test_dnsmos_shifts_score_sources_and_outputs_over_leads_of_silence(tmp_path, monkeypatch, capsys):
    from core.audio.io import load_audio
    from core.convert.listening import dnsmos_averaged

    model = build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(DNSMOS_ONE_WINDOW_SECONDS), 24000)
    monkeypatch.setattr(sys, "argv", ["bench_live_quality.py", "--sources", str(source), "--singers", "alto",
                                      "--presets", "safe", "--model", model.path, "--keep", str(tmp_path / "out"),
                                      "--dnsmos-shifts", "0", "7", "--json"])
    assert load_bench("bench_live_quality").main() == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    played = load_audio(tmp_path / "out" / "safe_voice_alto.wav", 24000)
    expected = (dnsmos_averaged(played, 24000, shifts_ms=[0, 7])["ovrl"]
                / dnsmos_averaged(load_audio(source, 24000), 24000, shifts_ms=[0, 7])["ovrl"])
    assert result["pairs"][0]["ovrl_ratio_averaged"] == pytest.approx(expected, abs=5e-4)
    assert result["ovrl_ratio_averaged_mean"] == result["pairs"][0]["ovrl_ratio_averaged"]
    assert result["dnsmos_shifts_ms"] == [0.0, 7.0]
