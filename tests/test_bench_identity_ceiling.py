"""bench/bench_identity_ceiling.py on synthetic singers: counts, shifts to the sources' pitch, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.audio.io import save_audio
from tests.bench_scripts import load_bench
from tests.convert_fixtures import sung_tone


@pytest.fixture()
def corpus(tmp_path):
    for singer, hz in (("low", 110.0), ("high", 330.0), ("mid", 200.0)):
        for i in range(7):
            save_audio(tmp_path / "corpus" / singer / f"{i}.wav", sung_tone(0.6, hz=hz), 24000)
    save_audio(tmp_path / "src.wav", sung_tone(0.6, hz=220.0), 24000)
    return tmp_path


def test_each_held_back_clip_is_judged_at_its_own_pitch_and_at_each_sources(corpus, capsys):
    code = load_bench("bench_identity_ceiling").main([
        "--sources", str(corpus / "src.wav"), "--targets-dir", str(corpus / "corpus"), "--singers", "low", "high",
        "--f0", "dio", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["singers"] == ["high", "low"]  # "mid" was not asked for
    assert result["own_pitch"]["n"] == 4 and result["at_source_pitch"]["n"] == 4
    assert result["own_pitch"]["chance"] == 0.5
    (hz,) = result["source_median_f0_hz"].values()
    assert hz == pytest.approx(220.0, rel=0.03)
    # low (110 Hz) goes up an octave and high (330 Hz) down 7 semitones to sing at 220 Hz
    assert result["shift_semitones_abs_mean"] == pytest.approx((12.0 + 12 * np.log2(330 / 220)) / 2, abs=0.4)
    bands = result["at_source_pitch_by_distance"]
    assert "<=5" not in bands and sum(b["n"] for b in bands.values()) == 4
    assert bands["5-12"]["n"] >= 2  # high's two clips moved 7 semitones


def test_fewer_than_two_singers_is_one_line(corpus, capsys):
    code = load_bench("bench_identity_ceiling").main([
        "--sources", str(corpus / "src.wav"), "--targets-dir", str(corpus / "corpus"), "--singers", "low"])
    assert code == 2 and "at least 2 singer folders" in capsys.readouterr().err
