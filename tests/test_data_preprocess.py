import json

import numpy as np
import pytest
import soundfile as sf

from core.data.cache import load_clip, read_manifest
from core.data.preprocess import preprocess
from core.errors import UserError
from tests.test_data_fixtures import make_corpus, micro_config, sung_tone


@pytest.fixture(scope="module")
def corpus_and_cache(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("data"), singers=2, files=3)
    # Bad data next to the good: a 1-second file, a corrupt file, a silent file.
    sf.write(root / "singer0" / "short.wav", sung_tone(1.0, 200.0, 24000, 0.5, 0), 24000)
    (root / "singer0" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    sf.write(root / "singer1" / "silence.wav", np.zeros(24000 * 3, np.float32), 24000)
    (root / "empty_singer").mkdir()
    out = tmp_path_factory.mktemp("cache")
    messages = []
    summary = preprocess(root, out, micro_config(), progress=False, log=messages.append)
    return root, out, summary, messages


def test_clips_features_and_split(corpus_and_cache):
    root, out, summary, _ = corpus_and_cache
    manifest = read_manifest(out)
    assert manifest["singers"] == ["singer0", "singer1"]
    originals = [c for c in manifest["clips"] if c["augment"] == "none"]
    assert len(originals) == 6 and summary["clips"] == 6
    for c in originals:
        clip = load_clip(out / c["file"])
        assert clip.mel.shape == (80, c["frames"]) and clip.f0.shape == (c["frames"],)
        assert c["frames"] == pytest.approx(2.4 * 24000 / 128, abs=25)  # one slice, edges trimmed
        assert clip.mel_perturbed.shape[1:] == clip.mel.shape  # built-in encoder inputs cached
        assert np.median(clip.f0[clip.voiced]) > 150
    # 2 validation clips per singer only when a singer has more than 2 clips: here 3 each -> 2 val, 1 train.
    for singer in ("singer0", "singer1"):
        val = [c for c in originals if c["singer"] == singer and c["split"] == "val"]
        assert len(val) == 2
    for c in manifest["clips"]:  # copies follow their original's split
        assert c["split"] == next(o["split"] for o in originals if o["id"] == c["base"])


def test_key_shift_copy_shifts_f0_and_mel(corpus_and_cache):
    _, out, _, _ = corpus_and_cache
    manifest = read_manifest(out)
    key = next(c for c in manifest["clips"] if c["augment"] == "key" and abs(c["key_shift"]) > 1)
    original = load_clip(out / next(c["file"] for c in manifest["clips"] if c["id"] == key["base"]))
    shifted = load_clip(out / key["file"])
    assert -5 <= shifted.key_shift <= 5 and shifted.key_shift == pytest.approx(key["key_shift"])
    voiced = original.voiced
    ratio = np.median(shifted.f0[voiced] / original.f0[voiced])
    assert ratio == pytest.approx(2 ** (key["key_shift"] / 12), rel=1e-3)
    # The spectrum moved: the loudest mel bin goes up for an upward shift and down for a downward one.
    peak = lambda m: np.median(np.argmax(m[:, voiced], axis=0))  # noqa: E731
    assert np.sign(peak(shifted.mel) - peak(original.mel)) == np.sign(key["key_shift"])


def test_volume_copy_scales_loudness(corpus_and_cache):
    _, out, _, _ = corpus_and_cache
    manifest = read_manifest(out)
    vol = next(c for c in manifest["clips"] if c["augment"] == "volume")
    original = load_clip(out / next(c["file"] for c in manifest["clips"] if c["id"] == vol["base"]))
    copy = load_clip(out / vol["file"])
    gain = 10 ** (vol["gain_db"] / 20)
    np.testing.assert_allclose(copy.loudness, original.loudness * gain, rtol=1e-5)
    assert vol["gain_db"] <= 20 * np.log10(1 / 0.95) + 1e-6  # never pushes the peak past full scale


def test_bad_files_are_reported_and_skipped(corpus_and_cache):
    _, out, _, messages = corpus_and_cache
    reasons = {s["path"]: s["reason"] for s in read_manifest(out)["skipped"]}
    assert "shorter than 2.1 s" in reasons["singer0/short.wav"]
    assert "cannot read" in reasons["singer0/corrupt.wav"] or "failed" in reasons["singer0/corrupt.wav"]
    assert "silent" in reasons["singer1/silence.wav"]
    assert all("Traceback" not in m for m in messages)


def test_rerun_skips_done_files(corpus_and_cache):
    root, out, _, _ = corpus_and_cache
    manifest = read_manifest(out)
    first = out / manifest["clips"][0]["file"]
    stamp = first.stat().st_mtime_ns
    sf.write(root / "singer1" / "take9.wav", sung_tone(2.4, 300.0, 24000, 0.7, 9), 24000)
    summary = preprocess(root, out, micro_config(), progress=False, log=lambda m: None)
    assert first.stat().st_mtime_ns == stamp  # not recomputed
    assert summary["clips"] == 7  # the new file was added
    assert json.loads((out / "manifest.json").read_text())["sources"]["singer1/take9.wav"]["clips"]


def test_rerun_after_a_singer_is_removed_forgets_its_clips(tmp_path):
    from core.data.dataset import CachedDataset

    root = make_corpus(tmp_path / "data", singers=3, files=1)
    out = tmp_path / "cache"
    preprocess(root, out, micro_config(), progress=False, log=lambda m: None)
    removed = [out / c["file"] for c in read_manifest(out)["clips"] if c["singer"] == "singer2"]
    assert removed and all(f.exists() for f in removed)
    for f in (root / "singer2").iterdir():
        f.unlink()
    (root / "singer2").rmdir()
    messages = []
    summary = preprocess(root, out, micro_config(), progress=False, log=messages.append)
    manifest = read_manifest(out)
    assert summary["singers"] == ["singer0", "singer1"]
    assert {c["singer"] for c in manifest["clips"]} == {"singer0", "singer1"}
    assert not any(f.exists() for f in removed) and "singer2/take0.wav" not in manifest["sources"]
    assert any("no longer in the corpus" in m for m in messages)
    assert len(CachedDataset(out)) == len([c for c in manifest["clips"] if c["split"] == "train"])


def test_empty_folder_and_missing_folder(tmp_path):
    (tmp_path / "data" / "nobody").mkdir(parents=True)
    with pytest.raises(UserError, match="no singer folders"):
        preprocess(tmp_path / "data", tmp_path / "out", micro_config(), progress=False)
    with pytest.raises(UserError, match="not a folder"):
        preprocess(tmp_path / "missing", tmp_path / "out", micro_config(), progress=False)


def test_one_singer_warns_but_works(tmp_path):
    root = make_corpus(tmp_path / "data", singers=1, files=1)
    messages = []
    summary = preprocess(root, tmp_path / "out", micro_config(), progress=False, log=messages.append)
    assert summary["singers"] == ["singer0"] and summary["train_clips"] == 3  # original + 2 copies, no val
    assert any("only one singer" in m for m in messages)
