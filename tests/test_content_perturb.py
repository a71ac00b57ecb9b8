"""Input perturbations: same length (so same mel frames), real spectral change, seeded."""

from __future__ import annotations

import numpy as np
import pyworld
import torch

from core.audio.mel import MelSpectrogram
from core.config import load_config
from core.features.perturb import (
    PerturbSettings,
    perturb_audio,
    random_eq,
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


def test_perturb_audio_is_deterministic_per_seed():
    settings = PerturbSettings.from_config(CFG)
    x = _voice(0.4)
    a = perturb_audio(x, SR, settings, torch.Generator().manual_seed(5))
    b = perturb_audio(x, SR, settings, torch.Generator().manual_seed(5))
    c = perturb_audio(x, SR, settings, torch.Generator().manual_seed(6))
    assert np.array_equal(a, b) and a.shape == x.shape
    assert not np.allclose(a, c)
