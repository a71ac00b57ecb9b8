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
    by_singer = result["at_source_pitch_by_singer"]
    assert set(by_singer) == {"high", "low"} and all(row["n"] == 2 for row in by_singer.values())
    hits = sum(row["top1"] for row in by_singer.values())
    assert hits == round(result["at_source_pitch"]["top1"] * 4)
    assert all(sum(row["heard_as"].values()) == row["n"] - row["top1"] for row in by_singer.values())


def test_fewer_than_two_singers_is_one_line(corpus, capsys):
    code = load_bench("bench_identity_ceiling").main([
        "--sources", str(corpus / "src.wav"), "--targets-dir", str(corpus / "corpus"), "--singers", "low"])
    assert code == 2 and "at least 2 singer folders" in capsys.readouterr().err


def test_each_vocoder_judges_the_same_re_sung_clips(corpus, capsys):
    import torch

    from core.config import load_config
    from core.vocoder.builtin import BuiltinVocoder
    from core.vocoder.files import save_vocoder
    from tests.convert_fixtures import tiny_config

    torch.manual_seed(0)
    path = corpus / "v.safetensors"
    save_vocoder(path, BuiltinVocoder.from_config(load_config("live").audio, tiny_config().vocoder))
    code = load_bench("bench_identity_ceiling").main([
        "--sources", str(corpus / "src.wav"), "--targets-dir", str(corpus / "corpus"), "--singers", "low", "high",
        "--f0", "dio", "--vocoder", str(path), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    through = result["through_vocoder"][str(path)]
    assert through["own_pitch"]["n"] == result["own_pitch"]["n"] == 4
    assert through["at_source_pitch"]["n"] == 4
    assert sum(b["n"] for b in through["at_source_pitch_by_distance"].values()) == 4
    # an untrained vocoder's noise is not the re-sung clip: it is further from the singers' own voices
    assert through["cosine_to_own_centroid_mean"] < result["cosine_to_own_centroid_mean"] - 0.01


def test_a_vocoder_of_another_front_end_is_refused(corpus, capsys):
    from core.config import load_config
    from core.vocoder.builtin import BuiltinVocoder
    from core.vocoder.files import save_vocoder
    from tests.convert_fixtures import tiny_config

    audio = load_config("live").audio
    other = BuiltinVocoder.from_config(type(audio)(**{**audio.__dict__, "hop_length": 256}), tiny_config().vocoder)
    save_vocoder(corpus / "v.safetensors", other)
    code = load_bench("bench_identity_ceiling").main([
        "--sources", str(corpus / "src.wav"), "--targets-dir", str(corpus / "corpus"), "--singers", "low", "high",
        "--vocoder", str(corpus / "v.safetensors")])
    assert code != 0 and "vocoder works at" in capsys.readouterr().err
