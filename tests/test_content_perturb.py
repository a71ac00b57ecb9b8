"""Input perturbations: same length (so same mel frames), real spectral change, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import pyworld
import torch

from core.audio.mel import MelSpectrogram, mel_bin_of
from core.config import load_config
from core.features.perturb import (
    PerturbSettings,
    perturb_audio,
    random_eq,
    random_mel_band_limit,
    random_mel_eq,
    warp_envelope,
    world_shift,
)

CFG = load_config("tiny")
SR = CFG.audio.sample_rate


def _voice(seconds: float = 0.6, f0: float = 180.0) -> np.ndarray:
    """A buzzy harmonic tone through two formant resonances: something WORLD can analyse."""
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 40) if f0 * k < SR / 2)
    from scipy.signal import lfilter

    for centre, bw in ((700, 120), (1800, 200)):
        r = np.exp(-np.pi * bw / SR)
        x = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * centre / SR), r * r], x)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _mel(audio) -> torch.Tensor:
    return MelSpectrogram(CFG.audio)(torch.as_tensor(audio))


def _centroid(audio: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    freqs = np.fft.rfftfreq(audio.size, 1 / SR)
    band = freqs < 5000
    return float((spec[band] * freqs[band]).sum() / spec[band].sum())


def test_formant_shift_moves_the_envelope_up_and_keeps_length():
    x = _voice()
    up = world_shift(x, SR, formant_ratio=1.3)
    same = world_shift(x, SR)
    assert up.shape == x.shape and up.dtype == np.float32
    assert _mel(up).shape == _mel(x).shape
    assert _centroid(up) > 1.1 * _centroid(same)


def test_pitch_shift_moves_f0():
    x = _voice(f0=180.0)
    y = world_shift(torch.from_numpy(x), SR, semitones=4.0)
    assert isinstance(y, torch.Tensor) and y.shape == (x.size,)
    f0, _ = pyworld.harvest(y.numpy().astype(np.float64), SR, f0_floor=80, f0_ceil=800)
    voiced = f0[f0 > 0]
    assert abs(np.median(voiced) - 180.0 * 2 ** (4 / 12)) < 10.0


def test_warp_envelope_stretches_frequency_axis():
    env = np.zeros((1, 100))
    env[0, 20] = 1.0
    assert np.argmax(warp_envelope(env, 2.0)[0]) == 40
    assert np.argmax(warp_envelope(env, 0.5)[0]) == 10


def test_random_eq_is_seeded_and_changes_the_spectrum():
    x = _voice()
    a = random_eq(x, SR, 9.0, torch.Generator().manual_seed(1))
    b = random_eq(x, SR, 9.0, torch.Generator().manual_seed(1))
    c = random_eq(x, SR, 9.0, torch.Generator().manual_seed(2))
    assert np.array_equal(a, b) and a.shape == x.shape
    assert np.abs(a).max() <= np.abs(x).max() + 1e-6
    diff_ac = (_mel(a) - _mel(c)).abs().mean()
    diff_ax = (_mel(a) - _mel(x)).abs().mean()
    assert diff_ac > 0.02 and diff_ax > 0.02


def test_random_mel_eq_keeps_shape_and_is_smooth():
    mel = _mel(_voice())
    g = torch.Generator().manual_seed(0)
    out = random_mel_eq(mel, 9.0, g)
    assert out.shape == mel.shape
    gain = (out - mel)[:, 0]
    assert gain.abs().max() > 0.05 and gain.abs().max() <= 9.0 / 20 + 1e-6
    assert (gain[1:] - gain[:-1]).abs().max() < 0.2  # a smooth curve, not noise
    assert random_mel_eq(mel.unsqueeze(0), 9.0, g).shape == (1,) + mel.shape


def _cut_bins(original: torch.Tensor, limited: torch.Tensor) -> list[int | None]:
    """Per item, the first mel bin the band limit lowered (None where it left the item alone)."""
    lowered = (limited < original - 1e-6).any(-1)
    return [int(row.nonzero()[0]) if row.any() else None for row in lowered]


def test_band_limit_is_what_a_low_sample_rate_recording_gives(monkeypatch):
    import scipy.signal
    import core.features.perturb as perturb

    monkeypatch.setattr(perturb, "BAND_LIMIT_HZ", (4000.0, 4000.0))
    x = _voice(f0=140.0) + 0.003 * np.random.default_rng(0).standard_normal(int(0.6 * SR)).astype(np.float32)
    telephone = scipy.signal.sosfiltfilt(scipy.signal.butter(16, 4000.0, fs=SR, output="sos"), x)
    real = _mel(telephone.astype(np.float32))
    limited = random_mel_band_limit(_mel(x)[None], CFG.audio, 1.0, torch.Generator().manual_seed(0))[0]
    below, above = slice(0, int(mel_bin_of(3000.0, CFG.audio))), slice(int(mel_bin_of(5000.0, CFG.audio)), None)
    floor = np.log10(CFG.audio.log_clamp)
    assert (limited[below] - real[below]).abs().mean() < 0.05  # the band kept is the recording's
    assert _mel(x)[above].mean() > floor + 1.0  # the full-band voice had something up there
    assert (limited[above] - floor).abs().max() < 1e-6 and (real[above] - floor).abs().mean() < 0.5


def test_band_limit_ramps_over_two_bins_to_its_full_depth(monkeypatch):
    import core.features.perturb as perturb

    monkeypatch.setattr(perturb, "BAND_LIMIT_HZ", (4000.0, 4000.0))
    out = random_mel_band_limit(torch.zeros(1, CFG.audio.n_mels, 2), CFG.audio, 1.0, torch.Generator())[0, :, 0]
    cutoff = mel_bin_of(4000.0, CFG.audio)
    last_kept, first_full = int(np.floor(cutoff)), int(np.ceil(cutoff + perturb.BAND_LIMIT_RAMP_BINS))
    assert (out[: last_kept + 1] == 0).all()
    partial = out[last_kept + 1: first_full]
    assert len(partial) == 2 and (partial < 0).all() and (partial > -perturb.BAND_LIMIT_DEPTH).all()
    assert partial[0] > partial[1]
    assert (out[first_full:] == -perturb.BAND_LIMIT_DEPTH).all()
    with pytest.raises(ValueError, match="batch, n_mels, frames"):
        random_mel_band_limit(torch.zeros(CFG.audio.n_mels, 2), CFG.audio, 1.0, torch.Generator())


def test_band_limit_cuts_a_share_of_items_within_the_range_and_never_below_the_clamp():
    from core.features.perturb import BAND_LIMIT_HZ

    mel = torch.full((400, CFG.audio.n_mels, 3), -2.0)
    mel[:, :, 0] = -5.5  # already under the clamp: left there, not raised
    limited = random_mel_band_limit(mel, CFG.audio, 0.5, torch.Generator().manual_seed(1))
    cuts = _cut_bins(mel, limited)
    chosen = [c for c in cuts if c is not None]
    assert 160 < len(chosen) < 240
    low, high = (mel_bin_of(hz, CFG.audio) for hz in BAND_LIMIT_HZ)
    assert low - 1 <= min(chosen) and max(chosen) <= high + 1 and max(chosen) - min(chosen) > 0.7 * (high - low)
    for item, cut in zip(limited, cuts):
        if cut is None:
            assert torch.equal(item, mel[0])
        else:
            assert torch.equal(item[:cut, 1:], mel[0, :cut, 1:]) and (item[cut + 2:, 1:] == -5.0).all()
    assert (limited[:, :, 0] == -5.5).all()
    again = random_mel_band_limit(mel, CFG.audio, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(limited, again)
    assert torch.equal(random_mel_band_limit(mel, CFG.audio, 0.0, torch.Generator().manual_seed(1)), mel)
    with pytest.raises(ValueError, match="probability"):
        random_mel_band_limit(mel, CFG.audio, 1.5, torch.Generator())


def test_perturb_audio_is_deterministic_per_seed():
    settings = PerturbSettings.from_config(CFG)
    x = _voice(0.4)
    a = perturb_audio(x, SR, settings, torch.Generator().manual_seed(5))
    b = perturb_audio(x, SR, settings, torch.Generator().manual_seed(5))
    c = perturb_audio(x, SR, settings, torch.Generator().manual_seed(6))
    assert np.array_equal(a, b) and a.shape == x.shape
    assert not np.allclose(a, c)
