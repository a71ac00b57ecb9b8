"""Grouped Conv1d as a channels-last Conv2d: the same outputs, only the layout changes."""

import contextlib
import io

import numpy as np
import pytest
import torch
from torch import nn

from core.features.conv_channels_last import ChannelsLastConv1d, grouped_conv1d_to_channels_last


@pytest.mark.parametrize("kernel, padding, stride, dilation, groups, frames", [
    (31, 15, 1, 1, 64, 30),   # FCPE's depthwise shape, narrower
    (5, 2, 2, 1, 8, 17),      # strided, grouped (not depthwise)
    (3, 0, 1, 3, 64, 40),     # dilated, unpadded
])
def test_it_computes_what_the_conv1d_computes(kernel, padding, stride, dilation, groups, frames):
    torch.manual_seed(0)
    conv = nn.Conv1d(64, 64, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups).eval()
    x = torch.randn(2, 64, frames)
    with torch.inference_mode():
        expected, got = conv(x), ChannelsLastConv1d(conv)(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_only_grouped_convolutions_are_replaced():
    model = nn.Sequential(nn.Conv1d(8, 16, 3, padding=1), nn.Sequential(nn.Conv1d(16, 16, 7, padding=3, groups=16)))
    grouped_conv1d_to_channels_last(model)
    assert type(model[0]) is nn.Conv1d  # dense: left alone (no faster, and rounded differently)
    assert isinstance(model[1][0], ChannelsLastConv1d)


def test_fcpe_tracks_a_sung_voice_exactly_as_before():
    from torchfcpe import spawn_bundled_infer_model

    with contextlib.redirect_stdout(io.StringIO()):
        original, converted = spawn_bundled_infer_model(device="cpu"), spawn_bundled_infer_model(device="cpu")
    grouped_conv1d_to_channels_last(converted)
    assert not any(type(m) is nn.Conv1d and m.groups > 1 for m in converted.modules())
    t = np.arange(16000) / 16000.0
    f0 = 220.0 * 2.0 ** (np.sin(2 * np.pi * 1.5 * t) / 6.0)  # a vibrato around A3
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000.0) / k for k in range(1, 8)).astype(np.float32)
    x = torch.from_numpy(0.3 * voice)[None, :, None]
    with torch.inference_mode():
        before = original.infer(x, sr=16000, decoder_mode="local_argmax", threshold=0.006)
        after = converted.infer(x, sr=16000, decoder_mode="local_argmax", threshold=0.006)
    assert float(before[before > 0].median()) == pytest.approx(220.0, rel=0.1)  # it did track the voice
    assert torch.equal(before, after)
