"""Range copies: F0 moves far, the spectral envelope (the singer's timbre) stays."""

import numpy as np
import pytest

from core.data.cache import load_clip, read_manifest
from core.data.preprocess import preprocess
from core.data.timbre_shift import range_shifts, resing_with_envelope
from core.features.pitch import get_pitch_extractor
from tests.test_data_fixtures import make_corpus, micro_config

RATE, HOP = 24000, 128


def _vowel(f0: float, formant_hz: float, seconds: float = 1.5) -> np.ndarray:
    """Falling harmonics of f0 with one strong resonance at formant_hz: a vowel-like tone."""
    t = np.arange(int(seconds * RATE)) / RATE
    y = np.zeros_like(t)
    for h in range(1, int(5000 / f0)):
        weight = 0.3 / h + 2.0 * np.exp(-(((h * f0) - formant_hz) / 250.0) ** 2)
        y += weight * np.sin(2 * np.pi * h * f0 * t)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def _envelope_peak_hz(audio: np.ndarray, f0: float) -> float:
    import pyworld

    x = audio.astype(np.float64)
    times = np.arange(len(x) // HOP) * HOP / RATE
    f0s = np.full(len(times), f0)
    envelope = pyworld.cheaptrick(x, f0s, times, RATE)
    middle = envelope[len(envelope) // 2]
    hz = np.arange(len(middle)) * RATE / (2 * (len(middle) - 1))
    band = (hz > 600) & (hz < 4000)  # above the low harmonics' own slope
    return float(hz[band][np.argmax(middle[band])])


def test_resung_tone_moves_its_pitch_and_keeps_its_formant():
    tone = _vowel(150.0, 1200.0)
    frames = len(tone) // HOP + 1
    f0, voiced = np.full(frames, 150.0, np.float32), np.ones(frames, bool)
    sung = resing_with_envelope(tone, RATE, HOP, f0, voiced, 7.0)
    assert sung.shape == tone.shape and np.max(np.abs(sung)) == pytest.approx(np.max(np.abs(tone)), rel=1e-4)
    track = get_pitch_extractor("dio", sample_rate=RATE, hop_length=HOP).extract(sung, frames)
    middle = track.f0[frames // 4: 3 * frames // 4]
    assert np.median(middle) == pytest.approx(150.0 * 2 ** (7 / 12), rel=0.02)
    # The formant stays at 1200 Hz; a key-shift copy's would have gone up to 1798 Hz.
    assert _envelope_peak_hz(sung, 150.0 * 2 ** (7 / 12)) == pytest.approx(1200.0, rel=0.12)


def test_range_shifts_reach_beyond_the_key_shift_copies():
    rng = np.random.default_rng(0)
    for _ in range(50):
        up, down = range_shifts(rng, 5.0, 12.0)
        assert 5.0 <= up <= 12.0 and -12.0 <= down <= -5.0


def test_preprocess_adds_range_copies_only_when_asked(tmp_path):
    root = make_corpus(tmp_path / "data", singers=1, files=2)
    plain, ranged = tmp_path / "plain", tmp_path / "ranged"
    preprocess(root, plain, micro_config(), progress=False, log=lambda _: None)
    cfg = micro_config()
    import dataclasses
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, range_shift_max=12.0))
    preprocess(root, ranged, cfg, progress=False, log=lambda _: None)
    before, after = read_manifest(plain)["clips"], read_manifest(ranged)["clips"]
    assert not any(c["augment"].startswith("range") for c in before)
    # The paper's copies keep their draws; the range copies come on top.
    assert [(c["id"], c["key_shift"], c["gain_db"]) for c in before] == \
        [(c["id"], c["key_shift"], c["gain_db"]) for c in after if not c["augment"].startswith("range")]
    copies = [c for c in after if c["augment"].startswith("range")]
    assert {c["augment"] for c in copies} == {"range_up", "range_down"}
    for copy in copies:
        original = load_clip(ranged / next(c["file"] for c in after if c["id"] == copy["base"]))
        shifted = load_clip(ranged / copy["file"])
        assert copy["key_shift"] == 0.0 and float(shifted.key_shift) == 0.0  # formants did not move
        assert 5.0 <= abs(copy["f0_shift"]) <= 12.0
        both = original.voiced & shifted.voiced
        ratio = np.median(shifted.f0[both] / original.f0[both])
        assert ratio == pytest.approx(2 ** (copy["f0_shift"] / 12), rel=0.03)
        np.testing.assert_array_equal(shifted.mel_perturbed, original.mel_perturbed)  # same words
