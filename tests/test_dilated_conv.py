"""The dilated Conv1d of one sequence as a matrix product gives torch's convolution."""

import pytest
import torch
import torch.nn.functional as F

from core.dilated_conv import dilated_conv1d, takes_slow_path


@pytest.mark.parametrize("in_ch,out_ch,kernel,dilation,frames", [
    (192, 192, 3, 2, 8), (192, 192, 3, 4, 1), (128, 256, 3, 2, 20), (5, 7, 5, 3, 11), (3, 4, 2, 8, 2),
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_equals_torch_conv1d(in_ch, out_ch, kernel, dilation, frames, with_bias):
    generator = torch.Generator().manual_seed(in_ch * 1000 + dilation)
    span = (kernel - 1) * dilation + 1
    x = torch.randn(1, in_ch, span + frames - 1, generator=generator)
    weight = torch.randn(out_ch, in_ch, kernel, generator=generator)
    bias = torch.randn(out_ch, generator=generator) if with_bias else None
    assert takes_slow_path(x, dilation)
    expected = F.conv1d(x, weight, bias, dilation=dilation)
    got = dilated_conv1d(x, weight, bias, dilation)
    assert got.shape == expected.shape == (1, out_ch, frames)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)


def test_batches_and_dilation_one_are_left_to_torch():
    x = torch.randn(2, 4, 9)
    assert not takes_slow_path(x, 2)
    assert not takes_slow_path(x[:1], 1)
    weight, bias = torch.randn(3, 4, 3), torch.randn(3)
    assert torch.equal(dilated_conv1d(x, weight, bias, 2), F.conv1d(x, weight, bias, dilation=2))


def test_too_short_an_input_is_torchs_own_error():
    with pytest.raises(RuntimeError):
        dilated_conv1d(torch.randn(1, 4, 4), torch.randn(3, 4, 3), None, 2)
