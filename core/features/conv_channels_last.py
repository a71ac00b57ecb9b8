"""Grouped Conv1d layers run as channels-last Conv2d on the CPU: the same numbers, a tenth of the time.

On the CPU, torch's Conv1d with the default (channels-first) layout takes a slow path for
FCPE's depthwise convolutions (1024 channels, kernel 31, groups 1024): ~0.6 ms per call on a few
dozen frames, six calls per pitch estimate, more than half of FCPE's cost per live block. The
same convolution written as a Conv2d over a (batch, channels, 1, time) tensor in channels-last
memory reaches oneDNN's direct kernel and takes ~0.07 ms, with bit-identical results
(BENCHMARKS.md, "Live quality: the pitch tracker"). Only grouped convolutions are converted: for
FCPE's dense ones the layout brings no speed and changes the rounding.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelsLastConv1d(nn.Module):
    """A Conv1d (any kernel, groups, stride, dilation; zero padding) as a channels-last Conv2d."""

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("only numeric zero padding is converted")
        self.conv = nn.Conv2d(conv.in_channels, conv.out_channels, (1, conv.kernel_size[0]),
                              stride=(1, conv.stride[0]), padding=(0, conv.padding[0]),
                              dilation=(1, conv.dilation[0]), groups=conv.groups, bias=conv.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(conv.weight[:, :, None, :])
            if conv.bias is not None:
                self.conv.bias.copy_(conv.bias)
        self.conv.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return self.conv(x).squeeze(2)


def grouped_conv1d_to_channels_last(model: nn.Module) -> nn.Module:
    """Replace every grouped, zero-padded nn.Conv1d in `model` by its ChannelsLastConv1d, in place."""
    for name, child in model.named_children():
        if (type(child) is nn.Conv1d and child.groups > 1 and child.padding_mode == "zeros"
                and not isinstance(child.padding, str)):
            setattr(model, name, ChannelsLastConv1d(child))
        else:
            grouped_conv1d_to_channels_last(child)
    return model
