"""The built-in content encoder: small, streaming-friendly, trained by this project.

Input: the paper's log-mel (normalised to [-1, 1]) of the 24 kHz audio, so it
shares the acoustic model's front end and runs at the mel frame rate.
Output: (frames, content_dim), one code per mel frame.

How it keeps timbre out (the speaker is the hard part; see DESIGN.md):
- instance normalisation over time, without affine parameters, on the input
  mel and again before the bottleneck: per-channel long-term averages (the
  spectral envelope, a microphone's EQ) are removed;
- a narrow bottleneck (content_dim, e.g. 32-64 wide);
- training with perturbed input (perturb.py) and, optionally, a speaker
  adversary behind a gradient reversal (`SpeakerAdversary`).

Streaming: every convolution is causal except the input conv, which sees
`lookahead` future frames; the instance norm uses a causal moving window of
`norm_frames` frames (not the whole clip), so a frame's code depends on a
fixed, finite stretch of input: `receptive_field` says how much. Given at
least that much left context, a window's codes equal the offline codes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.config import AudioConfig, Config

DILATIONS = (1, 2, 4, 1, 2, 4)  # residual causal conv blocks, kernel 3
KERNEL = 3


@dataclass(frozen=True)
class BuiltinShape:
    n_mels: int
    channels: int
    dim: int
    lookahead: int
    norm_frames: int
    dilations: tuple[int, ...] = DILATIONS

    @classmethod
    def from_config(cls, cfg: Config) -> "BuiltinShape":
        f = cfg.features
        return cls(cfg.audio.n_mels, f.content_channels, f.content_dim, f.content_lookahead, f.content_norm_frames)

    def to_json(self) -> dict:
        data = asdict(self)
        data["dilations"] = list(self.dilations)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "BuiltinShape":
        data = dict(data)
        data["dilations"] = tuple(data.get("dilations", DILATIONS))
        return cls(**data)


def moving_instance_norm(x: torch.Tensor, window: int, eps: float = 1e-5, last: int | None = None) -> torch.Tensor:
    """(B, C, T): subtract each channel's mean and divide by its std over the last `window` frames.

    Causal: frame t uses frames max(0, t - window + 1) .. t; the first frames
    use what there is. Equivalent to instance norm when window >= T and t = T - 1.
    `last` returns only the last frames (the streaming encoder's case). Running
    sums in float64: float32 sums of squares lose near-constant channels' variance.
    """
    total = x.shape[-1]
    frames = total if last is None else int(last)
    wide = x.double()
    sums = F.pad(torch.cumsum(wide, dim=-1), (1, 0))
    sums2 = F.pad(torch.cumsum(wide * wide, dim=-1), (1, 0))
    ends = torch.arange(total - frames + 1, total + 1, device=x.device)
    starts = torch.clamp(ends - window, min=0)
    count = (ends - starts).to(torch.float64)
    mean = (sums[..., ends] - sums[..., starts]) / count
    var = torch.clamp((sums2[..., ends] - sums2[..., starts]) / count - mean * mean, min=0.0)
    return ((wide[..., total - frames:] - mean) / torch.sqrt(var + eps)).to(x.dtype)


class CausalConv(nn.Conv1d):
    """Conv1d padded on the left only (plus `lookahead` frames on the right)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, dilation: int = 1, lookahead: int = 0) -> None:
        super().__init__(in_ch, out_ch, kernel, dilation=dilation)
        self.left = dilation * (kernel - 1) - lookahead
        self.lookahead = lookahead

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left, self.lookahead)))


class BuiltinContentNetwork(nn.Module):
    """(B, n_mels, T) normalised log-mel -> (B, T, dim) content codes."""

    def __init__(self, shape: BuiltinShape) -> None:
        super().__init__()
        self.shape = shape
        c = shape.channels
        # Kernel 3 looking back 2 frames, plus the lookahead frames.
        self.input_conv = CausalConv(shape.n_mels, c, KERNEL + shape.lookahead, lookahead=shape.lookahead)
        self.blocks = nn.ModuleList(CausalConv(c, 2 * c, KERNEL, dilation=d) for d in shape.dilations)
        self.block_out = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in shape.dilations)
        self.bottleneck = nn.Conv1d(c, shape.dim, 1)

    @property
    def receptive_field(self) -> tuple[int, int]:
        """(past frames, future frames) that one output frame depends on."""
        past = (KERNEL - 1) + sum(d * (KERNEL - 1) for d in self.shape.dilations)
        past += 2 * (self.shape.norm_frames - 1)  # two moving-window norms
        return past, self.shape.lookahead

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = moving_instance_norm(mel, self.shape.norm_frames)
        x = F.gelu(self.input_conv(x))
        for conv, out in zip(self.blocks, self.block_out):
            gate, value = conv(x).chunk(2, dim=1)
            x = x + out(torch.sigmoid(gate) * torch.tanh(value))
        x = moving_instance_norm(x, self.shape.norm_frames)
        return self.bottleneck(x).transpose(1, 2)


class BuiltinContentEncoder(nn.Module):
    """The ContentEncoder interface over the built-in network, with its own mel front end."""

    def __init__(self, shape: BuiltinShape, audio_cfg: AudioConfig) -> None:
        super().__init__()
        from core.audio.mel import MelSpectrogram

        if shape.n_mels != audio_cfg.n_mels:
            raise ValueError(f"encoder expects {shape.n_mels} mel bins, the audio config has {audio_cfg.n_mels}")
        self.network = BuiltinContentNetwork(shape)
        self.mel = MelSpectrogram(audio_cfg)
        self.audio_cfg = audio_cfg

    @classmethod
    def from_config(cls, cfg: Config) -> "BuiltinContentEncoder":
        return cls(BuiltinShape.from_config(cfg), cfg.audio)

    @property
    def dim(self) -> int:
        return self.network.shape.dim

    @property
    def receptive_field(self) -> tuple[int, int]:
        return self.network.receptive_field

    def forward_mel(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Training entry: (B, n_mels, T) log10 mel from MelSpectrogram -> (B, T, dim)."""
        from core.audio.mel import normalize

        return self.network(normalize(log_mel, self.audio_cfg))

    @torch.no_grad()  # not inference_mode: codes must be usable as inputs to a model being trained
    def encode(self, audio: torch.Tensor, n_frames: int) -> torch.Tensor:
        device = self.network.bottleneck.weight.device
        audio = torch.as_tensor(audio, dtype=torch.float32, device=device).reshape(-1)
        log_mel = self.mel(audio)
        if log_mel.shape[-1] == 0:
            return torch.zeros(n_frames, self.dim, device=device)
        codes = self.forward_mel(log_mel.unsqueeze(0))[0]
        return fit_frames(codes, n_frames)

    def stream(self, capacity_frames: int):
        """Incremental inference for live use (content_stream.BuiltinContentStream)."""
        from core.features.content_stream import BuiltinContentStream

        return BuiltinContentStream(self, capacity_frames)

    def file_parts(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(state dict, metadata) for content.save_content_encoder."""
        return self.network.state_dict(), {"encoder": "builtin", "shape": self.network.shape.to_json(), "dim": self.dim}


def fit_frames(codes: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Cut or extend (repeating the last frame) (frames, dim) to n_frames."""
    if codes.shape[0] >= n_frames:
        return codes[:n_frames]
    tail = codes[-1:].expand(n_frames - codes.shape[0], -1)
    return torch.cat([codes, tail], dim=0)


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity forward; multiplies the gradient by -scale backward (Ganin & Lempitsky's GRL)."""
    return _ReverseGradient.apply(x, scale)


class SpeakerAdversary(nn.Module):
    """Speaker classifier on content codes, behind a gradient reversal.

    Trained with cross-entropy like any classifier, it learns to find the
    singer in the codes while the reversed gradient pushes the encoder to hide
    the singer. Frame-level logits (B, T, n_speakers); `clip_logits` averages
    them over time for a clip-level loss.
    """

    def __init__(self, dim: int, n_speakers: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, n_speakers))

    def forward(self, codes: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return self.net(reverse_gradient(codes, scale))

    def clip_logits(self, codes: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return self.forward(codes, scale).mean(dim=1)
