"""The non-causal WaveNet denoiser network F(x_in, c_noise, cond) of DiffSinger/CoMoSVC.

Every residual layer sees +-(kernel_size - 1) / 2 * dilation frames, so the
receptive field is 1 + layers * (kernel_size - 1) * dilation frames (41 for
the paper's 20 layers of kernel 3, dilation 1). The network knows nothing of
noise levels: it receives the preconditioned input and c_noise as a number to
embed (see core.model.edm).
"""

from __future__ import annotations

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from core.config import ModelConfig


# Networks that run through a trace of themselves (WaveNet.trace_for_inference), by instance, each with
# the tensors its trace was seen to read. Kept outside the module: as an attribute a trace would join its
# state_dict, and a deep copy (the student made from the teacher) would carry a trace that still reads the
# original's weights. A tensor replaced since (assign=True, a buffer moved by .to()) sends it back to eager.
_TRACES: "weakref.WeakKeyDictionary[nn.Module, tuple[torch.jit.ScriptModule, tuple]]" = weakref.WeakKeyDictionary()


class SinusoidalEmbedding(nn.Module):
    """Transformer-style sin/cos features of a scalar (here c_noise = ln(sigma)/4)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError(f"step embedding size must be even and >= 4, got {dim}")
        half = dim // 2
        scale = math.log(10000.0) / (half - 1)
        self.register_buffer("frequencies", torch.exp(-scale * torch.arange(half, dtype=torch.float32)), persistent=False)

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        angles = value[:, None] * self.frequencies[None, :].to(value.dtype)
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ResidualLayer(nn.Module):
    """Gated dilated conv with the step added before it and the condition added after."""

    def __init__(self, channels: int, cond_channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.channels = channels
        self.step_projection = nn.Linear(channels, channels)
        self.dilated_conv = nn.Conv1d(
            channels, 2 * channels, kernel_size, padding=(kernel_size - 1) // 2 * dilation, dilation=dilation
        )
        self.cond_projection = nn.Conv1d(cond_channels, 2 * channels, 1)
        self.output_projection = nn.Conv1d(channels, 2 * channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, step: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = x + self.step_projection(step)[:, :, None]
        y = self.dilated_conv(y) + self.cond_projection(cond)
        gate, filt = torch.split(y, self.channels, dim=1)
        y = self.output_projection(torch.sigmoid(gate) * torch.tanh(filt))
        residual, skip = torch.split(y, self.channels, dim=1)
        return (x + residual) / math.sqrt(2.0), skip


class WaveNet(nn.Module):
    """(B, n_mels, T) x (B,) c_noise x (B, cond_channels, T) -> (B, n_mels, T)."""

    def __init__(
        self,
        n_mels: int,
        cond_channels: int,
        channels: int,
        layers: int,
        kernel_size: int,
        dilation: int,
        step_embed_dim: int,
        step_mlp_dim: int,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel size must be odd for a centred (non-causal) conv, got {kernel_size}")
        self.layers = layers
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.input_projection = nn.Conv1d(n_mels, channels, 1)
        nn.init.kaiming_normal_(self.input_projection.weight)
        self.step_embedding = SinusoidalEmbedding(step_embed_dim)
        self.step_mlp = nn.Sequential(
            nn.Linear(step_embed_dim, step_mlp_dim), nn.Mish(), nn.Linear(step_mlp_dim, channels)
        )
        self.residual_layers = nn.ModuleList(
            ResidualLayer(channels, cond_channels, kernel_size, dilation) for _ in range(layers)
        )
        self.skip_projection = nn.Conv1d(channels, channels, 1)
        nn.init.kaiming_normal_(self.skip_projection.weight)
        self.output_projection = nn.Conv1d(channels, n_mels, 1)
        # Zero output: an untrained denoiser returns c_skip * x, a safe start for EDM.
        nn.init.zeros_(self.output_projection.weight)
        nn.init.zeros_(self.output_projection.bias)

    @classmethod
    def from_config(cls, model: ModelConfig, n_mels: int) -> "WaveNet":
        return cls(
            n_mels=n_mels,
            cond_channels=model.cond_channels,
            channels=model.residual_channels,
            layers=model.residual_layers,
            kernel_size=model.kernel_size,
            dilation=model.dilation,
            step_embed_dim=model.step_embed_dim,
            step_mlp_dim=model.step_mlp_dim,
        )

    @property
    def context_frames(self) -> int:
        """Frames of context each side that an output frame depends on."""
        return self.layers * (self.kernel_size - 1) // 2 * self.dilation

    @property
    def receptive_field(self) -> int:
        return 2 * self.context_frames + 1

    def trace_for_inference(self, frames: int = 64) -> None:
        """From now on, run without gradients on float32 CPU tensors through a TorchScript trace: the same
        ops with no Python between them. At live block sizes each of the network's many small calls costs
        as much in Python as in arithmetic (BENCHMARKS.md, "The denoiser through a trace"). The network has
        no branch on sizes or values, so one trace serves every length and batch. Training (gradients on)
        and other devices stay eager; the trace reads the module's own tensors as updated in place, and a tensor
        replaced by another (assign=True, a buffer moved) sends the network back to eager."""
        if self in _TRACES:
            return
        from core.features.traced_network import warm_trace

        cond_channels = self.residual_layers[0].cond_projection.in_channels
        example = (torch.zeros(1, self.input_projection.in_channels, frames), torch.zeros(1),
                   torch.zeros(1, cond_channels, frames))
        _TRACES[self] = warm_trace(self, *example), self._tensors()

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        # Its first and last weights and its one buffer: a load with assign=True replaces every parameter,
        # and .to() every buffer; walking all 90 tensors would cost a fifth of what the trace saves.
        return self.input_projection.weight, self.output_projection.bias, self.step_embedding.frequencies

    def _trace_for(self, x: torch.Tensor) -> torch.jit.ScriptModule | None:
        """The trace, where it may run `x` and still reads this network's own tensors."""
        traced = _TRACES.get(self)
        if traced is None or torch.is_grad_enabled() or x.device.type != "cpu" or x.dtype != torch.float32:
            return None
        trace, tensors = traced
        if any(a is not b for a, b in zip(tensors, self._tensors())):
            del _TRACES[self]
            return None
        return trace

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        trace = self._trace_for(x)
        if trace is not None:
            return trace(x, c_noise, cond)
        h = F.relu(self.input_projection(x))
        step = self.step_mlp(self.step_embedding(c_noise))
        skips = torch.zeros_like(h)
        for layer in self.residual_layers:
            h, skip = layer(h, cond, step)
            skips = skips + skip
        out = F.relu(self.skip_projection(skips / math.sqrt(self.layers)))
        return self.output_projection(out)
