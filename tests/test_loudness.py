"""Frame RMS loudness."""

import numpy as np
import pytest
import torch

from core.features.loudness import frame_rms

HOP = 128


@pytest.mark.parametrize("n", [128, 300, 1000, 24000])
def test_frame_count(n):
    assert frame_rms(np.random.randn(n).astype(np.float32), HOP).shape == (n // HOP,)


def test_constant_amplitude_gives_that_rms():
    sine = 0.5 * np.sin(2 * np.pi * 375.0 * np.arange(24000) / 24000)  # 64 samples per period
    rms = frame_rms(sine.astype(np.float32), HOP)
    assert np.allclose(rms, 0.5 / np.sqrt(2), rtol=1e-3)
    dc = frame_rms(np.full(1280, -0.25, np.float32), HOP)
    assert np.allclose(dc, 0.25, atol=1e-6)


def test_matches_definition_and_tensor_equals_numpy():
    audio = np.random.randn(2000).astype(np.float32)
    padded = np.pad(audio ** 2, (HOP // 2, HOP // 2), mode="reflect")
    expected = np.sqrt([padded[t * HOP:(t + 1) * HOP].mean() for t in range(len(audio) // HOP)])
    got = frame_rms(audio, HOP)
    assert isinstance(got, np.ndarray)
    assert np.allclose(got, expected, rtol=1e-5)
    as_tensor = frame_rms(torch.from_numpy(audio), HOP)
    assert isinstance(as_tensor, torch.Tensor)
    assert np.allclose(as_tensor.numpy(), expected, rtol=1e-5)
    batch = frame_rms(torch.from_numpy(np.stack([audio, 2 * audio])), HOP)
    assert batch.shape == (2, len(audio) // HOP)
    assert torch.allclose(batch[1], 2 * batch[0], rtol=1e-5)


def test_step_onset_lands_in_right_frame():
    audio = np.zeros(2560, np.float32)
    audio[1280:] = 1.0  # onset at the start of frame 10
    rms = frame_rms(audio, HOP)
    assert rms[8] == 0.0 and rms[11] == pytest.approx(1.0)
    assert 0.0 < rms[10] < 1.0  # frame 10 straddles the onset (centred at 10*hop)


def test_n_frames_crops_and_holds():
    audio = np.full(1000, 0.1, np.float32)
    assert frame_rms(audio, HOP, n_frames=3).shape == (3,)
    longer = frame_rms(audio, HOP, n_frames=12)
    assert longer.shape == (12,) and np.allclose(longer[-4:], longer[7])
    assert frame_rms(np.zeros(10, np.float32), HOP).shape == (0,)
