"""Synthetic singing corpus: files vs manifest, seeded determinism, the imposed F0, singer differences."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cli.main import main
from core.data import tts
from core.data.corpus import CorpusSpec, available_singers, build_corpus
from core.data.corpus_singers import SINGERS
from core.data.melody import Note, SingingStyle, midi_to_hz, sung_f0
from core.errors import UserError
from core.features.pitch import get_pitch_extractor

SPEC = CorpusSpec(singers=2, clips_per_singer=1, seed=3, min_seconds=2.5, max_seconds=3.5)
HOP = 128


def _quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if len(available_singers()[0]) < 2:
        pytest.skip("needs at least two installed TTS voices (flite)")
    out = tmp_path_factory.mktemp("corpus")
    summary = build_corpus(out, SPEC, workers=1, log=_quiet)
    return out, summary, json.loads((out / "manifest.json").read_text())


def test_files_and_manifest_agree(corpus):
    out, summary, manifest = corpus
    assert summary["clips"] == len(manifest["clips"]) == 2
    assert manifest["frame_rate"] == pytest.approx(24000 / HOP)
    names = {clip["singer"] for clip in manifest["clips"]}
    assert names == {singer["name"] for singer in manifest["singers"]} and len(names) == 2
    for clip in manifest["clips"]:
        audio, rate = sf.read(out / clip["path"], dtype="float32")
        assert rate == 24000 and audio.ndim == 1
        assert len(audio) / rate == pytest.approx(clip["duration"], abs=1e-3)
        assert SPEC.min_seconds - 0.01 <= clip["duration"] <= SPEC.max_seconds
        assert len(clip["f0"]) == len(audio) // HOP
        assert clip["sentence"] and clip["voice"] and clip["seed"] == SPEC.seed
        assert np.count_nonzero(clip["f0"]) > 0.2 * len(clip["f0"])
    assert summary["total_seconds"] == pytest.approx(sum(c["duration"] for c in manifest["clips"]), abs=0.05)


def test_same_seed_same_bytes_and_rerun_skips(corpus, tmp_path):
    out, _, manifest = corpus
    first = manifest["clips"][0]
    again = build_corpus(tmp_path, CorpusSpec(1, 1, SPEC.seed, SPEC.min_seconds, SPEC.max_seconds), workers=1,
                         log=_quiet)
    assert again["rendered"] == 1
    assert (tmp_path / first["path"]).read_bytes() == (out / first["path"]).read_bytes()
    rerun = build_corpus(tmp_path, CorpusSpec(1, 1, SPEC.seed, SPEC.min_seconds, SPEC.max_seconds), workers=1,
                         log=_quiet)
    assert rerun["rendered"] == 0
    other_seed = build_corpus(tmp_path, CorpusSpec(1, 1, SPEC.seed + 1, SPEC.min_seconds, SPEC.max_seconds),
                              workers=1, log=_quiet)
    assert other_seed["rendered"] == 1  # a different seed is not "finished"
    assert (tmp_path / first["path"]).read_bytes() != (out / first["path"]).read_bytes()


def test_only_named_singers_give_the_full_corpus_clips(corpus, tmp_path, capsys):
    out, _, manifest = corpus
    second = manifest["singers"][1]["name"]
    spec = CorpusSpec(1, 1, SPEC.seed, SPEC.min_seconds, SPEC.max_seconds, names=(second,))
    summary = build_corpus(tmp_path / "only", spec, workers=1, log=_quiet)
    only = json.loads((tmp_path / "only" / "manifest.json").read_text())
    assert summary["singers"] == 1 and [s["name"] for s in only["singers"]] == [second]
    clip = next(c for c in manifest["clips"] if c["singer"] == second)
    assert (tmp_path / "only" / clip["path"]).read_bytes() == (out / clip["path"]).read_bytes()
    with pytest.raises(UserError, match="no built-in singer named nobody"):
        build_corpus(tmp_path / "bad", CorpusSpec(names=(second, "nobody")), log=_quiet)
    assert main(["corpus", str(tmp_path / "bad"), "--only", second, second]) != 0
    assert "twice" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "manifest.json").exists()


def test_imposed_f0_is_measurable(corpus):
    out, _, manifest = corpus
    extractor = get_pitch_extractor("dio", sample_rate=24000, hop_length=HOP)
    for clip in manifest["clips"]:
        audio, _ = sf.read(out / clip["path"], dtype="float32")
        intended = np.asarray(clip["f0"])
        measured = extractor.extract(audio, len(intended)).f0
        both = (intended > 0) & (measured > 0)
        assert both.sum() > 0.5 * np.count_nonzero(intended)
        cents = np.abs(1200 * np.log2(measured[both] / intended[both]))
        assert np.median(cents) < 20.0, clip["path"]


def test_singers_sing_in_their_own_ranges(corpus):
    _, _, manifest = corpus
    ranges = {s["name"]: s["range_hz"] for s in manifest["singers"]}
    medians = {}
    for clip in manifest["clips"]:
        f0 = np.asarray(clip["f0"])
        voiced = f0[f0 > 0]
        low, high = ranges[clip["singer"]]
        margin = 2 ** (1 / 12)  # vibrato and glides stay within a semitone of the range
        assert voiced.min() >= low / margin and voiced.max() <= high * margin
        medians[clip["singer"]] = np.median(voiced)
    low_voice, high_voice = sorted(medians.values())
    assert 12 * np.log2(high_voice / low_voice) > 6  # the first two singers are a soprano and a baritone


def test_singer_roster_is_varied():
    assert len(SINGERS) >= 12
    assert len({s.name for s in SINGERS}) == len(SINGERS)
    assert len({(s.voice, s.low_midi, s.formant_scale) for s in SINGERS}) == len(SINGERS)
    assert len({s.voice.engine for s in SINGERS}) == 3


def test_every_voice_has_a_package_that_the_set_up_installs():
    setup = (Path(__file__).resolve().parents[1] / "scripts" / "setup.sh").read_text()
    listed = set(setup.split("SYSTEM_PACKAGES=(")[1].split(")")[0].split())
    for singer in SINGERS:
        assert singer.voice.package in listed, singer.name


def _default_recipe_list(name: str) -> list[str]:
    """A bash array of scripts/train_default_model.sh, e.g. DISTINCT=(a b c)."""
    import re

    script = (Path(__file__).resolve().parents[1] / "scripts" / "train_default_model.sh").read_text()
    return re.search(rf"^{name}=\((.*?)\)", script, re.S | re.M).group(1).split()


def _shipped_singers() -> list[str]:
    from core.model.model_file import load_model

    path = Path(__file__).resolve().parents[1] / "models" / "default.safetensors"
    return load_model(path, parts=["student"]).singers.names


def test_the_first_16_singers_are_the_default_models_first_corpus():
    """`comosvc corpus --singers 16` (scripts/train_default_model.sh's first stages) must keep making its
    training singers; the later distinct speakers come from `corpus --only`."""
    first = {s.name for s in SINGERS[:16]}
    assert set(_shipped_singers()) <= first | set(_default_recipe_list("DISTINCT"))


def test_the_recipes_distinct_singers_are_the_shipped_models():
    """The last stages of scripts/train_default_model.sh train exactly the shipped model's singers: 11 of the
    first corpus and 3 distinct recorded speakers in place of the siblings of one speaker."""
    names = _default_recipe_list("DISTINCT")
    assert len(names) == len(set(names)) and sorted(names) == sorted(_shipped_singers())
    first = [s.name for s in SINGERS[:16]]
    assert set(names) - set(first) == {"fi_lj_mezzo", "cz_dita_alto", "cz_ph_tenor"}
    assert not {"hts_mezzo", "slt_low_alto", "kal16_tenor"} & set(names)
    assert set(names) <= {s.name for s in SINGERS}


def test_missing_engine_is_skipped_or_a_user_error(monkeypatch, tmp_path, capsys):
    real_which = shutil.which
    monkeypatch.setattr(tts.shutil, "which", lambda name: None if name == "flite" else real_which(name))
    usable, skipped = available_singers()
    assert all(s.voice.engine != "flite" for s in usable)
    assert skipped and all("apt-get install flite" in line for line in skipped)
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="flite"):
        build_corpus(tmp_path / "none", SPEC, workers=1, log=_quiet)
    assert main(["corpus", str(tmp_path / "none"), "--singers", "1"]) != 0
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert not (tmp_path / "none" / "manifest.json").exists()


def test_bad_arguments_are_user_errors(tmp_path):
    with pytest.raises(UserError):
        build_corpus(tmp_path, CorpusSpec(min_seconds=5.0, max_seconds=3.0), log=_quiet)
    with pytest.raises(UserError, match="only"):
        build_corpus(tmp_path, CorpusSpec(singers=len(SINGERS) + 1), log=_quiet)


def test_sung_f0_vibrato_delay_and_smooth_glide():
    style = SingingStyle(vibrato_hz=5.5, vibrato_cents=40.0, vibrato_delay=0.25, portamento=0.08)
    notes = [Note(0.0, 1.0, 60.0), Note(1.0, 2.0, 64.0), Note(2.5, 3.0, 62.0)]
    times = np.arange(0.0, 3.2, 0.001)
    f0 = sung_f0(notes, style, times)
    cents = 1200 * np.log2(np.where(f0 > 0, f0, 1.0) / midi_to_hz(60.0))
    assert np.allclose(cents[times < 0.2], 0.0, atol=1e-6)  # straight before the vibrato onset
    late = (times > 0.5) & (times < 0.95)
    assert 30.0 < np.abs(cents[late]).max() <= 40.0 + 1e-6
    glide = (times > 0.9) & (times < 1.1)
    assert np.max(np.abs(np.diff(cents[glide]))) < 20.0  # no 400-cent jump at the note change
    assert np.all(f0[(times >= 2.0) & (times < 2.5)] == 0.0)  # a rest is unvoiced
    assert np.all(f0[times >= 3.0] == 0.0)
