"""A dilated Conv1d of one sequence as one matrix product, for the CPU's live path.

On the CPU, torch sends a dilated Conv1d of a single sequence (batch 1, a few frames: every
live block) to a slow generic kernel that walks the channels one by one: ~0.6 ms for
192 channels and 16 frames, against ~0.15 ms for the same sums done as gathering the kernel's
taps and one matrix product (BENCHMARKS.md, "The vocoder's dilated convolutions"). Batches,
which training runs, already reach oneDNN and are left to torch, as are other devices and
dilation 1. The result equals F.conv1d up to float rounding (the sums run in another order).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def takes_slow_path(x: torch.Tensor, dilation: int) -> bool:
    """Whether torch would run this convolution on its slow per-channel CPU kernel."""
    return dilation > 1 and x.shape[0] == 1 and x.device.type == "cpu"


def dilated_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int) -> torch.Tensor:
    """F.conv1d(x, weight, bias, dilation=dilation) without padding, for (B, C_in, T) input."""
    if not takes_slow_path(x, dilation):
        return F.conv1d(x, weight, bias, dilation=dilation)
    out_channels, in_channels, kernel = weight.shape
    span = (kernel - 1) * dilation + 1
    frames = x.shape[-1] - span + 1
    if frames <= 0:  # too short for one output: torch's own message
        return F.conv1d(x, weight, bias, dilation=dilation)
    # (C_in, frames, kernel) view of every output frame's taps, laid out as weight's (C_in, kernel).
    taps = x[0].unfold(-1, span, 1)[..., ::dilation].permute(0, 2, 1).reshape(in_channels * kernel, frames)
    flat = weight.reshape(out_channels, in_channels * kernel)
    out = torch.mm(flat, taps) if bias is None else torch.addmm(bias[:, None], flat, taps)
    return out.unsqueeze(0)
