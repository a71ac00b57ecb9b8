"""HuBERT-base / ContentVec network, written for inference only.

The shape follows HuBERT-base (the "post-LN" variant, fairseq's
`layer_norm_first=False`, transformers' `do_stable_layer_norm=False`):

    16 kHz audio -> 7 strided convs (group norm after the first; total stride 320)
    -> LayerNorm -> Linear projection to the model width
    -> + convolutional positional embedding (grouped conv, GELU), LayerNorm
    -> N transformer layers: x = LN(x + attn(x)); x = LN(x + FFN(x))

Both published formats (Hugging Face and fairseq) are renamed into this
module's own parameter names by `content_import.py`; the positional conv's
weight norm is folded into a plain weight at import, so nothing here knows
about either format. Only the layers up to the output layer are kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class HubertShape:
    """Everything needed to rebuild the network; stored in the model file's metadata."""

    conv_layers: tuple[tuple[int, int, int], ...]  # (channels, kernel, stride) per conv
    conv_bias: bool
    hidden: int
    layers: int  # transformer layers kept (= the output layer)
    heads: int
    ffn: int
    pos_kernel: int
    pos_groups: int
    feature_layer_norm: bool  # LayerNorm on conv features before the projection
    layer_norm_eps: float = 1e-5

    @property
    def hop(self) -> int:
        hop = 1
        for _, _, stride in self.conv_layers:
            hop *= stride
        return hop

    @property
    def receptive_field(self) -> int:
        """Samples seen by one conv-feature frame."""
        field = 1
        for _, kernel, stride in reversed(self.conv_layers):
            field = (field - 1) * stride + kernel
        return field

    def to_json(self) -> dict:
        data = asdict(self)
        data["conv_layers"] = [list(c) for c in self.conv_layers]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "HubertShape":
        data = dict(data)
        data["conv_layers"] = tuple(tuple(int(v) for v in c) for c in data["conv_layers"])
        return cls(**data)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, dim = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, frames, self.heads, dim // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.out_proj(out.transpose(1, 2).reshape(batch, frames, dim))


class PostNormLayer(nn.Module):
    """One HuBERT-base transformer layer (layer norm after each residual sum)."""

    def __init__(self, dim: int, heads: int, ffn: int, eps: float) -> None:
        super().__init__()
        self.attention = SelfAttention(dim, heads)
        self.attention_norm = nn.LayerNorm(dim, eps=eps)
        self.ffn_in = nn.Linear(dim, ffn)
        self.ffn_out = nn.Linear(ffn, dim)
        self.final_norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.attention(x))
        return self.final_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class HubertNetwork(nn.Module):
    """(B, samples) at 16 kHz -> (B, frames, hidden), the output of the last kept layer."""

    def __init__(self, shape: HubertShape) -> None:
        super().__init__()
        self.shape = shape
        convs = []
        in_channels = 1
        for channels, kernel, stride in shape.conv_layers:
            convs.append(nn.Conv1d(in_channels, channels, kernel, stride=stride, bias=shape.conv_bias))
            in_channels = channels
        self.conv_layers = nn.ModuleList(convs)
        # One group per channel: a per-channel normalisation over time.
        first = shape.conv_layers[0][0]
        self.first_norm = nn.GroupNorm(first, first)
        self.feature_norm = nn.LayerNorm(in_channels, eps=shape.layer_norm_eps) if shape.feature_layer_norm else None
        self.projection = nn.Linear(in_channels, shape.hidden)
        self.pos_conv = nn.Conv1d(
            shape.hidden, shape.hidden, shape.pos_kernel, padding=shape.pos_kernel // 2, groups=shape.pos_groups
        )
        self.encoder_norm = nn.LayerNorm(shape.hidden, eps=shape.layer_norm_eps)
        self.layers = nn.ModuleList(
            PostNormLayer(shape.hidden, shape.heads, shape.ffn, shape.layer_norm_eps) for _ in range(shape.layers)
        )

    def conv_features(self, audio: torch.Tensor) -> torch.Tensor:
        x = audio.unsqueeze(1)
        for index, conv in enumerate(self.conv_layers):
            x = conv(x)
            if index == 0:
                x = self.first_norm(x)
            x = F.gelu(x)
        return x.transpose(1, 2)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = self.conv_features(audio)
        if self.feature_norm is not None:
            x = self.feature_norm(x)
        x = self.projection(x)
        pos = self.pos_conv(x.transpose(1, 2))
        if self.shape.pos_kernel % 2 == 0:
            pos = pos[:, :, :-1]  # an even kernel with k//2 padding yields one frame too many
        x = self.encoder_norm(x + F.gelu(pos).transpose(1, 2))
        for layer in self.layers:
            x = layer(x)
        return x


SEGMENT_FRAMES = 1500  # 30 s of 20 ms frames per attention window
CONTEXT_FRAMES = 250  # 5 s of context on each side of a segment


class HubertContentEncoder(nn.Module):
    """The ContentEncoder interface over a HubertNetwork: 24 kHz audio -> (n_frames, hidden) at the mel rate."""

    def __init__(self, network: HubertNetwork, sample_rate: int, hop_length: int, input_rate: int = 16000) -> None:
        super().__init__()
        self.network = network.eval()
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.input_rate = input_rate

    @property
    def dim(self) -> int:
        return self.network.shape.hidden

    @torch.no_grad()  # not inference_mode: codes must be usable as inputs to a model being trained
    def encode(self, audio: torch.Tensor, n_frames: int) -> torch.Tensor:
        from core.audio.resample import resample
        from core.features.content import align_frames

        device = next(self.network.parameters()).device
        audio = torch.as_tensor(audio, dtype=torch.float32, device=device).reshape(-1)
        audio_16k = resample(audio, self.sample_rate, self.input_rate)
        shape = self.network.shape
        hop, field = shape.hop, shape.receptive_field
        # Pad so that conv frame j is centred at (j + 0.5) * hop and the last frame reaches the end.
        n_out = max(-(-audio_16k.shape[-1] // hop), 1)
        left = (field - hop) // 2
        right = (n_out - 1) * hop + field - audio_16k.shape[-1] - left
        padded = F.pad(audio_16k, (left, max(right, 0)))
        features = self._run_in_segments(padded, n_out)
        return align_frames(features, n_frames, hop / self.input_rate, self.hop_length / self.sample_rate)

    def _run_in_segments(self, padded: torch.Tensor, n_out: int) -> torch.Tensor:
        """Attention memory grows with the square of the length: long inputs go in overlapping segments.

        Each segment of `SEGMENT_FRAMES` output frames is computed with `CONTEXT_FRAMES`
        of extra input on each side, and only its middle is kept.
        """
        hop, field = self.network.shape.hop, self.network.shape.receptive_field
        if n_out <= SEGMENT_FRAMES + 2 * CONTEXT_FRAMES:
            return self.network(padded.unsqueeze(0))[0]
        pieces = []
        for start in range(0, n_out, SEGMENT_FRAMES):
            stop = min(start + SEGMENT_FRAMES, n_out)
            first, last = max(start - CONTEXT_FRAMES, 0), min(stop + CONTEXT_FRAMES, n_out)
            chunk = padded[first * hop : (last - 1) * hop + field]
            out = self.network(chunk.unsqueeze(0))[0]
            pieces.append(out[start - first : stop - first])
        return torch.cat(pieces)
