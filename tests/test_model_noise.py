"""Frame-anchored noise: a frame's noise depends on (seed, absolute frame, draw) only."""

import numpy as np
import torch

from core.model.noise import anchored_noise, anchored_noise_numpy


def test_overlapping_windows_share_frames_exactly():
    full = anchored_noise_numpy(80, -10, 300, seed=7)
    window = anchored_noise_numpy(80, 95, 40, seed=7)
    assert np.array_equal(full[:, 105:145], window)


def test_seed_and_draw_give_independent_noise():
    base = anchored_noise_numpy(80, 0, 200, seed=1)
    for other in (anchored_noise_numpy(80, 0, 200, seed=2), anchored_noise_numpy(80, 0, 200, seed=1, draw=1)):
        assert abs(np.corrcoef(base.ravel(), other.ravel())[0, 1]) < 0.03


def test_noise_is_standard_normal_and_uncorrelated_across_frames_and_bins():
    noise = anchored_noise_numpy(80, 0, 2000, seed=3)
    assert abs(noise.mean()) < 0.02
    assert abs(noise.std() - 1.0) < 0.02
    assert abs(np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1]) < 0.02
    assert abs(np.corrcoef(noise[:-1].ravel(), noise[1:].ravel())[0, 1]) < 0.02


def test_torch_wrapper_shape_dtype_and_batch():
    noise = anchored_noise(16, 5, 12, seed=0, batch=3, dtype=torch.float64)
    assert noise.shape == (3, 16, 12) and noise.dtype == torch.float64
    assert torch.equal(noise[0], noise[2])
