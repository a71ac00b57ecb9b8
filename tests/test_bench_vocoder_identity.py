"""bench/bench_vocoder_identity.py on tiny vocoders and synthetic singers (structure, counts, refusals)."""

from __future__ import annotations

import json

import pytest
import torch

from core.audio.io import save_audio
from core.config import load_config
from core.vocoder.builtin import BuiltinVocoder
from core.vocoder.files import save_vocoder
from tests.bench_scripts import load_bench
from tests.convert_fixtures import sung_tone, tiny_config


@pytest.fixture()
def corpus(tmp_path):
    for singer, hz in (("low", 110.0), ("high", 330.0)):
        for i in range(7):
            save_audio(tmp_path / "corpus" / singer / f"{i}.wav", sung_tone(0.6, hz=hz * (1 + 0.02 * i)), 24000)
    save_audio(tmp_path / "corpus" / "few" / "0.wav", sung_tone(0.6), 24000)  # too few files: not a singer here
    return tmp_path / "corpus"


def test_every_vocoder_gets_identification_over_each_singers_held_back_clips(tmp_path, corpus, capsys):
    cfg = load_config("live")
    files = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        small = tiny_config()
        vocoder = BuiltinVocoder.from_config(cfg.audio, small.vocoder)
        files.append(str(tmp_path / f"v{seed}.safetensors"))
        save_vocoder(files[-1], vocoder)
    code = load_bench("bench_vocoder_identity").main(["--vocoders", *files, "--targets-dir", str(corpus), "--clips-per-singer", "2",
                          "--no-dnsmos", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["singers"] == ["high", "low"] and result["clips"] == 4
    assert list(result["vocoders"]) == files
    for row in result["vocoders"].values():
        sid = row["singer_id"]
        assert sid["n"] == 4 and sid["chance"] == 0.5 and 0.0 <= sid["top1"] <= 1.0 and 1.0 <= sid["mean_rank"] <= 2.0
        assert -1.0 <= row["cosine_mean"] <= 1.0 and row["dnsmos_ovrl_ratio_mean"] is None


def test_a_corpus_without_two_usable_singers_is_refused(tmp_path, capsys):
    for i in range(3):
        save_audio(tmp_path / "c" / "only" / f"{i}.wav", sung_tone(0.3), 24000)
    assert load_bench("bench_vocoder_identity").main(["--vocoders", "x.safetensors", "--targets-dir", str(tmp_path / "c"), "--no-dnsmos"]) == 2
    assert "at least 2 singer folders" in capsys.readouterr().err


def test_remake_judges_each_recording_re_made_by_the_model_as_its_own_singer(tmp_path, capsys):
    from tests.convert_fixtures import build_tiny_model

    model = tmp_path / "tiny.safetensors"
    build_tiny_model(model)
    for singer, hz in (("alto", 330.0), ("bass", 110.0)):  # the tiny model's singers
        for i in range(6):
            save_audio(tmp_path / "c" / singer / f"{i}.wav", sung_tone(0.5, hz=hz * (1 + 0.02 * i)), 24000)
    bench = load_bench("bench_vocoder_identity")
    code = bench.main(["--remake", str(model), "--targets-dir", str(tmp_path / "c"), "--clips-per-singer", "1",
                       "--no-dnsmos", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["vocoders"] == {} and list(result["remakes"]) == [str(model)]
    sid = result["remakes"][str(model)]["singer_id"]
    assert sid["n"] == 2 and sid["chance"] == 0.5
    # A folder that is not one of the model's singers cannot be re-made as itself: one line, exit 2.
    for i in range(6):
        save_audio(tmp_path / "c" / "tenor" / f"{i}.wav", sung_tone(0.5, hz=200.0), 24000)
    assert bench.main(["--remake", str(model), "--targets-dir", str(tmp_path / "c"), "--no-dnsmos"]) == 2
    assert "no singer tenor" in capsys.readouterr().err


def test_nothing_to_judge_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        load_bench("bench_vocoder_identity").main(["--targets-dir", str(tmp_path)])
    assert exit_info.value.code == 2
