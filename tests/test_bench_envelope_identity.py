"""bench/bench_envelope_identity.py on a tiny model and a tiny cache (structure, counts, refusals)."""

from __future__ import annotations

import json

import pytest

from core.audio.io import save_audio
from core.data.preprocess import preprocess
from tests.bench_scripts import load_bench
from tests.convert_fixtures import build_tiny_model, sung_tone, tiny_config
from tests.test_data_fixtures import sung_tone as corpus_tone


def _cache(root, singers):
    for k, (singer, hz) in enumerate(singers.items()):
        for i in range(4):
            tone = corpus_tone(2.4, hz * 2 ** (i / 12), 24000, 0.3 + 0.4 * k, seed=10 * k + i)
            save_audio(root / "corpus" / singer / f"{i}.wav", tone, 24000)
    preprocess(root / "corpus", root / "cache", tiny_config(), progress=False, log=lambda m: None)
    return root / "cache"


@pytest.fixture()
def model(tmp_path):
    path = tmp_path / "tiny.safetensors"
    build_tiny_model(path)
    return path


@pytest.mark.slow  # ~10 s: every source through both stages
def test_each_source_is_classified_for_every_singer_at_both_stages(tmp_path, model, capsys):
    cache = _cache(tmp_path, {"alto": 330.0, "bass": 110.0})  # the tiny model's singers
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(0.8, hz=200.0), 24000)
    code = load_bench("bench_envelope_identity").main(
        ["--model", str(model), "--cache", str(cache), "--sources", str(source), "--steps", "20", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 2 and result["chance"] == 0.5 and result["validation_clips"] == 4
    assert [p["singer"] for p in result["pairs"]] == ["alto", "bass"]
    for stage in ("model_mel", "output_audio"):
        assert all(p[stage] in ("alto", "bass") for p in result["pairs"])
        hits = sum(p[stage] == p["singer"] for p in result["pairs"])
        assert result[stage]["top1"] == hits / 2 and len(result[stage]["misses"]) == 2 - hits


def test_a_cache_of_other_singers_is_refused(tmp_path, model, capsys):
    cache = _cache(tmp_path, {"tenor": 220.0, "bass": 110.0})
    code = load_bench("bench_envelope_identity").main(
        ["--model", str(model), "--cache", str(cache), "--sources", str(tmp_path / "none.wav"), "--steps", "1"])
    assert code != 0 and "are not the model's" in capsys.readouterr().err
