"""The paper's mel front end."""

import numpy as np
import pytest
import torch

from core.audio.mel import MelSpectrogram, denormalize, mel_bin_of, normalize
from core.config import load_config

CFG = load_config("paper").audio


@pytest.fixture(scope="module")
def mel() -> MelSpectrogram:
    return MelSpectrogram(CFG)


def _sine(freq: float, seconds: float = 0.5, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(CFG.sample_rate * seconds), dtype=torch.float64) / CFG.sample_rate
    return (amp * torch.sin(2 * torch.pi * freq * t)).float()


@pytest.mark.parametrize("n", [128, 129, 255, 256, 1000, 24000, 24127])
def test_frame_count_is_len_floor_hop(mel, n):
    out = mel(torch.randn(n) * 0.1)
    assert out.shape == (CFG.n_mels, n // CFG.hop_length)


def test_short_and_batched_inputs(mel):
    assert mel(torch.zeros(100)).shape == (CFG.n_mels, 0)
    batch = torch.randn(3, 2000) * 0.1
    out = mel(batch)
    assert out.shape == (3, CFG.n_mels, 2000 // CFG.hop_length)
    assert torch.allclose(out[1], mel(batch[1]), atol=1e-5)


def test_value_range(mel):
    silence = mel(torch.zeros(4800))
    assert torch.allclose(silence, torch.full_like(silence, np.log10(CFG.log_clamp)))
    loud = mel(torch.randn(4800).clamp(-1, 1))
    assert loud.min() >= np.log10(CFG.log_clamp) - 1e-6
    assert loud.max() < 3.0
    normed = normalize(mel(_sine(440.0)), CFG)
    assert normed.min() >= -1.0 and normed.max() <= 1.0


def test_normalize_round_trip():
    x = torch.linspace(-5, 2, 50)
    assert torch.allclose(denormalize(normalize(x, CFG), CFG), x, atol=1e-6)
    assert normalize(torch.tensor(CFG.spec_min), CFG).item() == pytest.approx(-1.0)
    assert normalize(torch.tensor(CFG.spec_max), CFG).item() == pytest.approx(1.0)


def test_filterbank_matches_librosa_slaney(mel):
    librosa = pytest.importorskip("librosa")
    reference = librosa.filters.mel(sr=CFG.sample_rate, n_fft=CFG.n_fft, n_mels=CFG.n_mels,
                                    fmin=CFG.fmin, fmax=CFG.fmax)
    assert np.allclose(mel.mel_basis.numpy(), reference, atol=1e-6)


def test_matches_direct_formula(mel):
    audio = torch.randn(3000) * 0.2
    pad = (CFG.n_fft - CFG.hop_length) // 2
    padded = torch.nn.functional.pad(audio[None, None], (pad, pad), mode="reflect")[0, 0]
    frames = padded.unfold(0, CFG.n_fft, CFG.hop_length) * torch.hann_window(CFG.n_fft)
    spec = torch.fft.rfft(frames.double(), dim=-1)
    magnitude = torch.sqrt(spec.real ** 2 + spec.imag ** 2 + CFG.mag_eps)
    expected = torch.log10(torch.clamp(mel.mel_basis.double() @ magnitude.T, min=CFG.log_clamp))
    assert torch.allclose(mel(audio).double(), expected, atol=1e-4)


@pytest.mark.parametrize("freq", [220.0, 1000.0, 5000.0])
def test_sine_peaks_in_expected_bin(mel, freq):
    peak = mel(_sine(freq)).mean(dim=1).argmax().item()
    assert abs(peak - mel_bin_of(freq, CFG)) <= 1.0


def test_key_shift_octave_moves_peak_up(mel):
    freq = 500.0
    plain = mel(_sine(freq)).mean(dim=1).argmax().item()
    shifted_out = mel(_sine(freq), key_shift=12)
    assert shifted_out.shape == (CFG.n_mels, len(_sine(freq)) // CFG.hop_length)
    up = shifted_out.mean(dim=1).argmax().item()
    assert abs(up - mel_bin_of(2 * freq, CFG)) <= 1.0
    assert up > plain
    down = mel(_sine(freq), key_shift=-12).mean(dim=1).argmax().item()
    assert abs(down - mel_bin_of(freq / 2, CFG)) <= 1.0


def test_key_shift_keeps_level(mel):
    # The win/win_new scaling keeps a sine's peak level roughly where it was.
    audio = _sine(800.0)
    peak = mel(audio).max().item()
    assert mel(audio, key_shift=5).max().item() == pytest.approx(peak, abs=0.15)


def test_windows_are_cached(mel):
    mel(torch.randn(1000), key_shift=3)
    cached = dict(mel._windows)
    mel(torch.randn(1000), key_shift=3)
    assert all(mel._windows[k] is v for k, v in cached.items())


def test_float64_input_and_module_copies(mel):
    audio = torch.randn(2000, dtype=torch.float64) * 0.1
    out = mel(audio)
    assert out.dtype == torch.float64
    assert torch.allclose(out.float(), mel(audio.float()), atol=1e-4)
    assert torch.allclose(mel(audio.numpy()), mel(audio.float()), atol=1e-6)


@pytest.mark.parametrize("shift", [-5.0, -2.5, 1.0, 3.7, 5.0])
def test_key_shift_keeps_frame_count(mel, shift):
    for n in (700, 24000):
        assert mel(torch.randn(n) * 0.1, key_shift=shift).shape == (CFG.n_mels, n // CFG.hop_length)
