"""Int8 weights for FCPE on the CPU: its cost per call is reading its weights.

On a block of a few dozen frames the bundled FCPE network (6 conformer layers,
512 wide) is limited by memory bandwidth, not arithmetic: ~13 ms per call on
this project's 2-core machine whatever the block length, a third of a 40 ms
live block. Dynamic int8 quantisation of its linear layers (the pointwise
convolutions are linear layers along time) reads a quarter of the bytes.
Measured against the float model on corpus voices: median 0.6 cents apart,
voicing decisions 99.5 % the same (BENCHMARKS.md, "Features").
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


class PointwiseLinear(nn.Module):
    """A kernel-1 Conv1d as a Linear over the channel axis (so int8 quantisation applies)."""

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        self.linear = nn.Linear(conv.in_channels, conv.out_channels, bias=conv.bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(conv.weight[:, :, 0])
            if conv.bias is not None:
                self.linear.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.transpose(1, 2)).transpose(1, 2)


def _pointwise_to_linear(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv1d) and child.kernel_size == (1,) and child.groups == 1 and child.stride == (1,):
            setattr(module, name, PointwiseLinear(child))
        else:
            _pointwise_to_linear(child)


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """The model with its plain Linear layers (and pointwise convs) on int8 weights, in place.

    Only modules whose type is exactly nn.Linear are converted: subclasses (e.g.
    weight-normed wrappers) keep float weights.
    """
    _pointwise_to_linear(model)
    names = {name for name, module in model.named_modules() if type(module) is nn.Linear}
    with warnings.catch_warnings():  # torch.ao's eager quantisation is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, names, dtype=torch.qint8, inplace=True)
