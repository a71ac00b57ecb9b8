"""NSF-HiFiGAN generator (the paper's vocoder family), weight norm folded.

Two published layouts share one network and our parameter names equal theirs
(minus weight norm, which `nsf_import` folds away):

- "m4singer": DiffSinger/CoMoSVC's 24 kHz generator (hop 128, 80 mels, log10
  mel input). Its source branch passes each `noise_convs` output through ReLU
  and a parameter-free layer norm over channels.
- "openvpi": the 44.1 kHz generator (hop 512, 128 mels, natural-log mel input),
  source added as is.

Keys: conv_pre, ups.N, noise_convs.N, resblocks.N.convs1.M / convs2.M (or
.convs.M for resblock type "2"), m_source.l_linear, conv_post.

The harmonic source (fundamental + 8 overtones, amplitude 0.1, merged by
m_source.l_linear and tanh) follows each layout's published SineGen op for op
in float32, as upstream runs it, but from an explicit starting state and with
counter-based noise, so that a window cut out of a longer signal regenerates
the same excitation: that is what lets `context_stream` run it block by block.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.config import AudioConfig
from core.errors import ModelFileError
from core.vocoder.base import Vocoder
from core.vocoder.noise import hash_noise

ARCHITECTURE = "nsf-hifigan"
LRELU_SLOPE = 0.1
HARMONICS = 9         # fundamental + 8 overtones (harmonic_num = 8)
SINE_AMP = 0.1
VOICED_NOISE_STD = 0.003


@dataclass(frozen=True)
class NsfShape:
    layout: str                      # "m4singer" | "openvpi"
    sampling_rate: int
    hop_size: int
    num_mels: int
    n_fft: int
    win_size: int
    fmin: float
    fmax: float
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int
    resblock: str
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    log_base: str                    # "10" (log10 mel in) or "e" (natural log in)
    source_norm: bool                # ReLU + layer norm on the source branch (m4singer)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "NsfShape":
        names = [f.name for f in fields(NsfShape)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ModelFileError(f"NSF-HiFiGAN metadata lacks: {', '.join(missing)}")
        values = dict((n, data[n]) for n in names)
        for key in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            values[key] = tuple(int(v) for v in values[key])
        values["resblock_dilation_sizes"] = tuple(tuple(int(d) for d in ds) for ds in values["resblock_dilation_sizes"])
        return NsfShape(**values)

    def front_end(self, spec_min: float = -6.0, spec_max: float = 1.5) -> AudioConfig:
        """The log10 mel front end this generator was trained on (our MelSpectrogram computes it).

        Magnitude: M4Singer's mel_processing takes sqrt(re^2 + im^2 + 1e-9),
        openvpi's nvSTFT a plain |X|; both clamp the mel at 1e-5 before the log.
        """
        mag_eps = 1e-9 if self.layout == "m4singer" else 0.0
        return AudioConfig(sample_rate=self.sampling_rate, n_fft=self.n_fft, win_length=self.win_size,
                           hop_length=self.hop_size, n_mels=self.num_mels, fmin=self.fmin, fmax=self.fmax,
                           mag_eps=mag_eps, log_clamp=1e-5, spec_min=spec_min, spec_max=spec_max)


def _padding(kernel: int, dilation: int) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlock1(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        dilations = dilations[:3]   # the published block reads three; a config may list more
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d))
                                    for d in dilations)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, padding=_padding(kernel, 1))
                                    for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        dilations = dilations[:2]   # the published block reads two
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d))
                                   for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = x + c(F.leaky_relu(x, LRELU_SLOPE))
        return x


class SourceMerge(nn.Module):
    """Holds `l_linear` under the published name `m_source`."""

    def __init__(self) -> None:
        super().__init__()
        self.l_linear = nn.Linear(HARMONICS, 1)


def source_state_size(layout: str) -> int:
    """Numbers carried per stream across frames: M4Singer one phase per harmonic, openvpi one frame offset."""
    return HARMONICS if layout == "m4singer" else 1


def _seeded_cumsum(seed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B, n) seed, (B, T, n) -> (B, T+1, n): the running sum started from the seed, in x's dtype.

    A zero seed reproduces torch.cumsum(x) itself (on the CPU, float32 sums
    accumulate in float64 and round each output), so a whole signal gets
    upstream's exact numbers while a window can start from a carried state.
    """
    return torch.cumsum(torch.cat([seed[:, None, :].to(x.dtype), x], dim=1), dim=1)


def _m4singer_cycles(f0: torch.Tensor, upp: int, sample_rate: int, state: torch.Tensor):
    """parallel_wavegan's SineGen, op for op in f0's dtype (float32 as upstream runs it).

    Per sample: rad = (k * f0 / sr) % 1; the phase is the running sum of rad,
    minus 1 wherever the running sum of rad wraps (which keeps the sum small).
    `state` (B, 9) is that sum before the first sample, per harmonic.
    """
    f0_up = f0.repeat_interleave(upp, dim=1)[..., None]                        # nearest upsampling
    rad = (f0_up * torch.arange(1, HARMONICS + 1, dtype=f0.dtype, device=f0.device) / sample_rate) % 1
    wrapped = _seeded_cumsum(state, rad) % 1
    shift = (wrapped[:, 1:] - wrapped[:, :-1] < 0) * -1.0
    phase = _seeded_cumsum(state, rad + shift)                                   # (B, T+1, 9)
    # The sum stays in [0, 1) up to rounding; a carried state is wrapped so it cannot creep by whole cycles.
    return phase[:, 1:], phase[:, ::upp] % 1


def _openvpi_cycles(f0: torch.Tensor, upp: int, sample_rate: int, state: torch.Tensor):
    """openvpi's SineGen, op for op in f0's dtype: per frame f0 * n / sr (n = 1..upp) plus
    the wrapped sum of earlier frames' totals, then times k. `state` (B, 1) is that sum
    before the first frame."""
    rad = f0[..., None] / sample_rate * torch.arange(1, upp + 1, device=f0.device)   # (B, F, upp)
    total = torch.fmod(rad[..., -1:] + 0.5, 1.0) - 0.5                                 # wrapped to [-0.5, 0.5)
    offset = _seeded_cumsum(state, total).fmod(1.0)                                  # (B, F+1, 1)
    rad = (rad + offset[:, :-1]).reshape(f0.shape[0], -1, 1)
    cycles = torch.multiply(rad, torch.arange(1, HARMONICS + 1, device=f0.device).view(1, 1, -1))
    return cycles, offset


def source_cycles(layout: str, f0: torch.Tensor, upp: int, sample_rate: int, state: torch.Tensor | None = None):
    """(B, F) f0 -> each harmonic's phase in cycles (B, F*upp, 9), and the source state at
    every frame boundary (B, F+1, n) (index F: the state to continue from)."""
    if state is None:
        state = f0.new_zeros(f0.shape[0], source_state_size(layout))
    state = state.reshape(f0.shape[0], -1).to(f0.dtype).expand(-1, source_state_size(layout))
    cycles = _m4singer_cycles if layout == "m4singer" else _openvpi_cycles
    return cycles(f0, upp, sample_rate, state)


def harmonic_source(f0: torch.Tensor, hop: int, sample_rate: int, phase0: torch.Tensor,
                    start_sample: torch.Tensor, noise_scale: float = 1.0, *, layout: str) -> torch.Tensor:
    """(B, F) f0 -> (B, F*hop, HARMONICS) sines (f0 held per frame), plus noise, voiced-gated.

    The sines follow the layout's published SineGen op for op in f0's dtype
    (float32, as upstream runs), so their float32 rounding is upstream's too.
    `phase0` (B, n) or (B,) is the source state before the first frame (see
    `source_cycles`; zeros for a signal's start); `start_sample` (B,) the
    absolute index of the first sample (noise); `noise_scale` 0 gives the
    noiseless source. The published code draws the overtones' starting phases
    at random on every call; here they start at zero, which keeps blocks and
    whole files equal.
    """
    cycles, _ = source_cycles(layout, f0, hop, sample_rate, phase0)
    if layout == "m4singer":
        sines = torch.sin(cycles * 2 * math.pi) * SINE_AMP
    else:
        sines = torch.sin(2 * math.pi * cycles) * SINE_AMP
    per_sample = f0.repeat_interleave(hop, dim=1)
    voiced = (per_sample > 0).to(f0.dtype)[..., None]
    if noise_scale == 0.0:
        return sines * voiced
    index = start_sample[:, None, None] * HARMONICS + torch.arange(per_sample.shape[1] * HARMONICS,
                                                                    device=f0.device).view(1, -1, HARMONICS)
    # Roughly Gaussian noise from two counter-based uniforms (Box-Muller).
    u1 = (hash_noise(index, seed=1) + 1.0) / 2.0
    u2 = (hash_noise(index, seed=2) + 1.0) / 2.0
    gauss = torch.sqrt(-2.0 * torch.log(u1.clamp(min=1e-7))) * torch.cos(2 * math.pi * u2)
    noise_std = voiced * VOICED_NOISE_STD + (1 - voiced) * SINE_AMP / 3
    return sines * voiced + noise_scale * noise_std * gauss


class NsfHifiganGenerator(nn.Module):
    def __init__(self, shape: NsfShape) -> None:
        super().__init__()
        self.shape = shape
        ch0 = shape.upsample_initial_channel
        self.m_source = SourceMerge()
        self.conv_pre = nn.Conv1d(shape.num_mels, ch0, 7, padding=3)
        self.ups = nn.ModuleList()
        self.noise_convs = nn.ModuleList()
        rates = shape.upsample_rates
        for i, (u, k) in enumerate(zip(rates, shape.upsample_kernel_sizes)):
            out_ch = ch0 // 2 ** (i + 1)
            self.ups.append(nn.ConvTranspose1d(ch0 // 2 ** i, out_ch, k, u, padding=(k - u) // 2))
            if i + 1 < len(rates):
                stride = math.prod(rates[i + 1:])
                self.noise_convs.append(nn.Conv1d(1, out_ch, stride * 2, stride=stride, padding=stride // 2))
            else:
                self.noise_convs.append(nn.Conv1d(1, out_ch, 1))
        block = ResBlock1 if shape.resblock == "1" else ResBlock2
        self.resblocks = nn.ModuleList(
            block(ch0 // 2 ** (i + 1), k, tuple(d))
            for i in range(len(rates))
            for k, d in zip(shape.resblock_kernel_sizes, shape.resblock_dilation_sizes)
        )
        self.conv_post = nn.Conv1d(ch0 // 2 ** len(rates), 1, 7, padding=3)
        self.upp = math.prod(rates)

    def forward(self, mel: torch.Tensor, f0: torch.Tensor, phase0: torch.Tensor,
                start_sample: torch.Tensor, noise_scale: float = 1.0) -> torch.Tensor:
        """(B, num_mels, F) mel in the checkpoint's own log scale, (B, F) f0 -> (B, F*hop)."""
        source = harmonic_source(f0, self.upp, self.shape.sampling_rate, phase0, start_sample, noise_scale,
                                 layout=self.shape.layout)
        source = torch.tanh(self.m_source.l_linear(source)).transpose(1, 2)   # (B, 1, T)
        x = self.conv_pre(mel)
        n_kernels = len(self.shape.resblock_kernel_sizes)
        for i, (up, noise_conv) in enumerate(zip(self.ups, self.noise_convs)):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            s = noise_conv(source)
            if self.shape.source_norm:
                s = F.layer_norm(F.relu(s).transpose(1, -1), (s.shape[1],)).transpose(1, -1)
            x = x + s[..., : x.shape[-1]]
            blocks = self.resblocks[i * n_kernels:(i + 1) * n_kernels]
            x = sum(b(x) for b in blocks) / n_kernels
        x = self.conv_post(F.leaky_relu(x))   # default slope 0.01 here, as published
        return torch.tanh(x)[:, 0]


class NsfHifiganVocoder(Vocoder):
    """An imported NSF-HiFiGAN behind our interface; input is log10 mel of its own front end."""

    name = "nsf-hifigan"

    def __init__(self, generator: NsfHifiganGenerator, context_frames: int = 16, lookahead_frames: int = 4,
                 crossfade_frames: int = 2) -> None:
        self.generator = generator.eval()
        s = generator.shape
        self.sample_rate, self.hop_length, self.n_mels = s.sampling_rate, s.hop_size, s.num_mels
        self.context_frames = context_frames
        self.lookahead_frames = lookahead_frames
        self.crossfade_frames = crossfade_frames
        self.latency_samples = lookahead_frames * s.hop_size

    def front_end(self) -> AudioConfig:
        return self.generator.shape.front_end()

    def render(self, log_mel: torch.Tensor, f0: torch.Tensor, phase0: torch.Tensor | float = 0.0,
               start_sample: int = 0, noise_scale: float = 1.0) -> torch.Tensor:
        """(n_mels, F) log10 mel, (F,) f0 -> (F*hop,), with the source's phase and noise anchored.

        `phase0`: the source state before the first frame, as `source_phases` gives it (0: a signal's start).
        """
        mel = log_mel * math.log(10.0) if self.generator.shape.log_base == "e" else log_mel
        state = torch.as_tensor(phase0, dtype=torch.float32, device=mel.device).reshape(1, -1)
        with torch.no_grad():
            audio = self.generator(mel[None], f0[None], state,
                                   torch.tensor([start_sample], dtype=torch.int64, device=mel.device), noise_scale)
        return audio[0, : log_mel.shape[1] * self.hop_length]

    def source_phases(self, f0: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(F,) f0 and the state before it (None: a signal's start) -> the state at each frame's start (F, n)
        and after the last frame (n,), for `render(phase0=...)` on a window starting at any of these frames.

        Made by the same float32 arithmetic as the source itself, so a window regenerates what the whole
        signal has there up to float32 rounding (tests/test_nsf_upstream_parity.py measures it).
        """
        s = self.generator.shape
        with torch.no_grad():
            _, states = source_cycles(s.layout, f0[None].float(), self.generator.upp, s.sampling_rate,
                                      None if state is None else state[None])
        return states[0, :-1], states[0, -1]

    def synthesize(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        log_mel, f0 = self.check_inputs(log_mel, f0)
        return self.render(log_mel, f0)

    def _move_weights(self, device: torch.device) -> None:
        self.generator.to(device)

    def stream(self):
        from core.vocoder.context_stream import ContextStream

        return ContextStream(self, self.context_frames, self.lookahead_frames, self.crossfade_frames)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.generator.state_dict())

    def metadata(self) -> dict[str, Any]:
        return {"architecture": ARCHITECTURE, "shape": asdict(self.generator.shape)}

    @staticmethod
    def from_state(state: dict[str, torch.Tensor], metadata: dict[str, Any]) -> "NsfHifiganVocoder":
        generator = NsfHifiganGenerator(NsfShape.from_dict(metadata.get("shape", {})))
        try:
            generator.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelFileError(f"NSF-HiFiGAN weights do not match its shape: {str(exc).splitlines()[0]}") from None
        return NsfHifiganVocoder(generator)
