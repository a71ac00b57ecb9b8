"""bench/bench_quality.py on a tiny random model: JSON fields, ranges, missing singer, bad model path."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from convert_fixtures import DNSMOS_ONE_WINDOW_SECONDS, build_tiny_model, sung_tone
from core.audio.io import save_audio
from core.convert.evaluate import f0_fidelity, relative_difference
from tests.bench_scripts import load_bench

@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    build_tiny_model(root / "tiny.safetensors")
    # as if its teacher had learnt some crops without a singer, so that singer guidance may be set
    build_tiny_model(root / "guidable.safetensors", overrides={"train.singer_dropout_prob": 0.15})
    sources = []
    for i, hz in enumerate((220.0, 262.0)):
        path = root / f"src{i}.wav"
        save_audio(path, sung_tone(DNSMOS_ONE_WINDOW_SECONDS, hz=hz), 24000)
        sources.append(str(path))
    targets = root / "targets"
    (targets / "alto").mkdir(parents=True)  # no "bass" folder: reported as missing
    (targets / "other").mkdir()  # a singer the model does not know: ignored
    for i, hz in enumerate((330.0, 350.0)):
        save_audio(targets / "alto" / f"a{i}.wav", sung_tone(1.0, hz=hz), 24000)
    save_audio(targets / "other" / "o0.wav", sung_tone(1.0, hz=150.0), 24000)
    return root, sources, targets


def _finite(value):
    return value is None or (isinstance(value, (int, float)) and math.isfinite(value))


def test_json_fields_and_ranges(setup, capsys):
    root, sources, targets = setup
    code = load_bench("bench_quality").main(["--model", str(root / "tiny.safetensors"), "--sources", *sources,
                          "--targets-dir", str(targets), "--eval-f0", "dio", "--steps", "1", "teacher-2",
                          "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["singers"] == ["alto"]
    assert result["missing_singers"] == ["bass"]
    assert any("bass" in note for note in result["notes"])
    assert result["fpc_scale"] == "hz" and result["f0_method"] == "dio"
    assert result["teacher_churn"] == 20.0  # the tiny model's own
    assert len(result["pairs"]) == 2 * 1 * 2  # sources x singers x steps
    for pair in result["pairs"]:
        for key in ("fpc", "cents_median", "cents_abs_median", "off_50c_share", "voiced_recall",
                    "source_cosine", "output_cosine", "cosine_gain", "rtf"):
            assert key in pair and _finite(pair[key]), (key, pair[key])
        assert -1.0 <= pair["source_cosine"] <= 1.0 and -1.0 <= pair["output_cosine"] <= 1.0
        assert pair["fpc"] is None or -1.0 <= pair["fpc"] <= 1.0
        assert pair["off_50c_share"] is None or 0.0 <= pair["off_50c_share"] <= 1.0
        assert pair["rtf"] > 0
    assert set(result["by_steps"]) == {"1", "teacher-2"}
    for summary in result["by_steps"].values():
        assert summary["pairs"] == 2 and summary["rtf"] > 0
        assert 0.0 <= summary["closer_share"] <= 1.0
        assert all(_finite(v) for v in summary.values() if not isinstance(v, dict))
        ident = summary["singer_id"]
        assert ident["n"] == 2 and ident["chance"] is None  # one evaluated singer: nothing to identify among
        assert 1.0 <= summary["dnsmos_ovrl_mean"] <= 5.0 and summary["dnsmos_ratio_mean"] > 0
    for pair in result["pairs"]:
        assert set(pair["dnsmos"]) == {"sig", "bak", "ovrl", "p808"}
    assert all(1.0 <= d["ovrl"] <= 5.0 for d in result["source_dnsmos"].values())
    svt = result["student_vs_teacher"]
    assert svt["reference"] == "teacher-2" and set(svt["relative_difference"]) == {"1"}
    assert all(_finite(v) for v in svt["relative_difference"]["1"].values())
    # The alto's median is 330 Hz: the 220 Hz source sings 7 semitones under it, the 262 Hz one 4.
    distances = sorted(p["range_distance"] for p in result["pairs"] if p["steps"] == "1")
    assert distances == pytest.approx([12 * math.log2(220 / 330), 12 * math.log2(262 / 330)], abs=0.3)
    bands = result["by_steps"]["1"]["singer_id_by_distance"]
    assert list(bands) == ["<=5", "5-12"] and [b["n"] for b in bands.values()] == [1, 1]
    # One evaluated singer: the probe needs two, so it says why instead of a figure.
    assert result["leakage"]["accuracy"] is None and result["leakage"]["note"]


def test_dnsmos_averaged_over_presentations_for_sources_and_outputs(setup, capsys):
    root, sources, targets = setup
    code = load_bench("bench_quality").main(["--model", str(root / "tiny.safetensors"), "--sources", sources[0],
                                             "--targets-dir", str(targets), "--eval-f0", "dio", "--steps", "1",
                                             "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS),
                                             "--dnsmos-levels", "-6", "0", "--dnsmos-shifts", "0", "5", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dnsmos_presentations"] == {"gains_db": [-6.0, 0.0], "shifts_ms": [0.0, 5.0]}
    source = result["source_dnsmos_averaged"][sources[0]]
    assert len(source["ovrl_by_presentation"]) == 4
    # the clip as it is (0 dB, no lead) is one of them: the plain DNSMOS figure, measured again
    assert source["ovrl_by_presentation"]["+0 dB, 0 ms"] == pytest.approx(result["source_dnsmos"][sources[0]]["ovrl"])
    assert source["ovrl"] == pytest.approx(np.mean(list(source["ovrl_by_presentation"].values())))
    pair = result["pairs"][0]
    assert pair["dnsmos_averaged"]["ovrl_by_presentation"]["+0 dB, 0 ms"] == pytest.approx(pair["dnsmos"]["ovrl"])
    assert pair["dnsmos_averaged_ratio"] == pytest.approx(pair["dnsmos_averaged"]["ovrl"] / source["ovrl"])
    summary = result["by_steps"]["1"]
    assert summary["dnsmos_averaged_ratio_mean"] == pytest.approx(
        np.mean([p["dnsmos_averaged_ratio"] for p in result["pairs"]]))


@pytest.mark.parametrize(
    "model, steps, flag, other, key, other_value, own_value, bad, message",
    [
        ("tiny", "teacher-3", "--churn", "0", "teacher_churn", 0.0, 20.0, "-2", "churn must be a number >= 0"),
        ("tiny", "1", "--latent-scale", "1", "student_latent_scale", 1.0, 0.6, "-1",
         "latent scale must be a number >= 0"),
        ("guidable", "teacher-3", "--singer-guidance", "1.5", "singer_guidance", 1.5, 0.0, "-1",
         "singer guidance must be a number >= 0"),
    ],
)
def test_a_sampler_setting_changes_the_output_and_a_bad_one_is_one_line(
        setup, capsys, model, steps, flag, other, key, other_value, own_value, bad, message):
    root, sources, targets = setup
    bench = load_bench("bench_quality")
    common = ["--model", str(root / f"{model}.safetensors"), "--sources", sources[0], "--targets-dir", str(targets),
              "--eval-f0", "dio", "--steps", steps, "--max-seconds", "1", "--no-dnsmos", "--json"]
    assert bench.main([*common, flag, other]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert bench.main(common) == 0
    own = json.loads(capsys.readouterr().out)
    assert (changed[key], own[key]) == (other_value, own_value)  # the tiny model's own, unless given
    assert changed["pairs"][0]["output_cosine"] != own["pairs"][0]["output_cosine"]  # another sampler, another output
    assert bench.main([*common, flag, bad]) != 0
    assert message in capsys.readouterr().err


def test_singer_guidance_of_a_teacher_that_never_learnt_without_a_singer_is_one_line(setup, capsys):
    root, sources, targets = setup
    code = load_bench("bench_quality").main(["--model", str(root / "tiny.safetensors"), "--sources", sources[0],
                                             "--targets-dir", str(targets), "--eval-f0", "dio", "--steps", "teacher-3",
                                             "--max-seconds", "1", "--no-dnsmos", "--singer-guidance", "1"])
    assert code != 0
    err = capsys.readouterr().err
    assert "never learnt to denoise without a singer" in err and "Traceback" not in err


def test_another_seed_is_another_draw_of_the_same_conversion(setup, capsys):
    root, sources, targets = setup
    bench = load_bench("bench_quality")
    common = ["--model", str(root / "tiny.safetensors"), "--sources", sources[0], "--targets-dir", str(targets),
              "--eval-f0", "dio", "--steps", "1", "--max-seconds", "1", "--no-dnsmos", "--json"]
    runs = []
    for extra in ([], ["--seed", "0"], ["--seed", "3"]):
        assert bench.main([*common, *extra]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert [run["seed"] for run in runs] == [0, 0, 3]
    cosine = [run["pairs"][0]["output_cosine"] for run in runs]
    assert cosine[0] == cosine[1] and cosine[2] != cosine[0]


def test_table_and_leakage_with_two_singers(setup, capsys):
    root, sources, targets = setup
    bass = targets / "bass"
    bass.mkdir(exist_ok=True)
    save_audio(bass / "b0.wav", sung_tone(1.0, hz=110.0), 24000)
    try:
        code = load_bench("bench_quality").main(["--model", str(root / "tiny.safetensors"), "--sources", sources[0],
                              "--targets-dir", str(targets), "--eval-f0", "dio", "--steps", "1",
                              "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS)])
        out = capsys.readouterr().out
    finally:
        (bass / "b0.wav").unlink()
        bass.rmdir()
    assert code == 0
    assert "content leakage: speaker-ID probe accuracy" in out and "FPC" in out


def test_bad_model_path_is_a_clear_error(setup, capsys):
    root, sources, targets = setup
    code = load_bench("bench_quality").main(["--model", str(root / "missing.safetensors"), "--sources", *sources,
                          "--targets-dir", str(targets), "--eval-f0", "dio", "--json"])
    assert code != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.safetensors" in err and "Traceback" not in err


def test_f0_fidelity_figures():
    f0 = np.array([200.0, 210.0, 220.0, 0.0, 230.0], np.float32)
    voiced = f0 > 0
    same = f0_fidelity(f0, voiced, f0, voiced)
    assert same["fpc"] == pytest.approx(1.0) and same["cents_abs_median"] == pytest.approx(0.0, abs=1e-6)
    assert same["off_50c_share"] == 0.0 and same["voiced_recall"] == 1.0
    sharp = f0_fidelity(f0, voiced, f0 * 2 ** (100 / 1200), voiced)
    assert sharp["cents_median"] == pytest.approx(100.0, abs=1e-3) and sharp["off_50c_share"] == 1.0
    assert f0_fidelity(f0, voiced, np.zeros(5), np.zeros(5, bool))["fpc"] is None
    assert relative_difference(0.9, 1.0) == pytest.approx(-0.1) and relative_difference(1.0, 0.0) is None


def test_auto_transpose_moves_each_source_toward_the_target(setup, capsys):
    root, sources, targets = setup
    code = load_bench("bench_quality").main(["--model", str(root / "tiny.safetensors"), "--sources", *sources,
                          "--targets-dir", str(targets), "--eval-f0", "dio", "--steps", "1",
                          "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS), "--auto-transpose", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["auto_transpose"] is True
    shifts = {Path(p["source"]).name: p["shift"] for p in result["pairs"]}
    # The alto's median is 330 Hz: the 220 Hz source moves up further than the 262 Hz one.
    assert shifts["src0.wav"] > shifts["src1.wav"] > 0
    assert all(float(s).is_integer() for s in shifts.values())
    # Moved to the alto's range, both sing within a semitone of its median.
    assert all(abs(p["range_distance"]) < 1.0 for p in result["pairs"])
    assert list(result["by_steps"]["1"]["singer_id_by_distance"]) == ["<=5"]


@pytest.mark.slow  # ~12 s: preprocesses a corpus and trains the judge
def test_mel_judge_names_a_cache_singer_for_every_output(setup, tmp_path, capsys):
    from convert_fixtures import tiny_config
    from core.data.preprocess import preprocess
    from tests.test_data_fixtures import make_corpus

    root, sources, targets = setup
    corpus = make_corpus(tmp_path / "corpus", singers=2, files=3)
    for old, new in (("singer0", "alto"), ("singer1", "bass")):  # the tiny model's singers
        (corpus / old).rename(corpus / new)
    cache = tmp_path / "cache"
    preprocess(corpus, cache, tiny_config(), progress=False, log=lambda m: None)
    bench = load_bench("bench_quality")
    common = ["--model", str(root / "tiny.safetensors"), "--sources", *sources, "--targets-dir", str(targets),
              "--eval-f0", "dio", "--steps", "1", "--no-dnsmos", "--max-seconds", "1.0"]
    assert bench.main([*common, "--mel-judge", str(cache), "--mel-judge-steps", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    named = [pair["mel_judge_singer"] for pair in result["pairs"]]
    assert len(named) == 2 and set(named) <= {"alto", "bass"}
    assert result["by_steps"]["1"]["mel_judge_top1"] == pytest.approx(np.mean([n == "alto" for n in named]))
    assert bench.main([*common, "--json"]) == 0
    assert "mel_judge_top1" not in json.loads(capsys.readouterr().out)["by_steps"]["1"]
    # A cache of other singers, or no training steps, is one clear line and exit 2.
    (corpus / "bass").rename(corpus / "tenor")
    strangers = tmp_path / "strangers"
    preprocess(corpus, strangers, tiny_config(), progress=False, log=lambda m: None)
    assert bench.main([*common, "--mel-judge", str(strangers)]) == 2
    assert "the model has alto, bass" in capsys.readouterr().err
    assert bench.main([*common, "--mel-judge", str(cache), "--mel-judge-steps", "0"]) == 2
    assert "--mel-judge-steps must be at least 1" in capsys.readouterr().err
    # A cache made for other mels is one clear line and exit 2, before any conversion.
    other = tmp_path / "other-cache"
    preprocess(corpus, other, tiny_config().replace({"audio.n_mels": 40}), progress=False, log=lambda m: None)
    assert bench.main([*common, "--mel-judge", str(other)]) == 2
    assert "the feature cache was made for 40 mels" in capsys.readouterr().err
