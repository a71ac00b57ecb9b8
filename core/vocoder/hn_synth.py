"""Harmonic-plus-noise synthesis from frame-rate controls, causal and stateful.

Frame t's controls (harmonic amplitudes, noise band gains, f0) are reached at
the end of output block t: samples of block t interpolate linearly from frame
t-1 to frame t. So block t needs nothing after frame t and the only state is
the previous frame's controls, the oscillator phase and the sample counter.

- Harmonics: a sine bank at k * phase, where phase is the running integral of
  f0 (float64 so long streams do not drift); harmonics above Nyquist are muted.
  Where one side of a frame pair is unvoiced (f0 = 0) the voiced side's f0 is
  held, and the voicing itself fades over the block.
- Noise: counter-based noise (`noise.hash_noise`) through a fixed bank of
  band-pass FIR filters; each band gets its own time-varying gain. The filters
  are centred (non-causal in the noise), which is free: noise at any index is
  known in advance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.vocoder.noise import hash_noise


def _hz_to_mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _mel_to_hz(m: float) -> float:
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


def noise_filter_bank(n_bands: int, sample_rate: int, half_length: int) -> torch.Tensor:
    """(n_bands, 1, 2*half_length+1) Hann-windowed sinc band-passes, mel-spaced, covering 0..Nyquist."""
    nyquist = sample_rate / 2.0
    edges_mel = torch.linspace(0.0, _hz_to_mel(nyquist), n_bands + 1)
    edges = torch.tensor([_mel_to_hz(float(m)) for m in edges_mel], dtype=torch.float64) / sample_rate
    n = torch.arange(-half_length, half_length + 1, dtype=torch.float64)
    window = torch.hann_window(2 * half_length + 3, periodic=False, dtype=torch.float64)[1:-1]
    lows, highs = edges[:-1, None], edges[1:, None]
    # Low-pass at f is 2f sinc(2f n); a band is the difference of two low-passes.
    band = 2 * highs * torch.sinc(2 * highs * n) - 2 * lows * torch.sinc(2 * lows * n)
    return (band * window).to(torch.float32).unsqueeze(1)


@dataclass
class SynthState:
    """What block t+1 needs from block t. Tensors carry a batch dimension."""

    amps: torch.Tensor     # (B, K) previous frame's harmonic amplitudes
    gains: torch.Tensor    # (B, n_bands) previous frame's noise band gains
    f0: torch.Tensor       # (B,) previous frame's f0, Hz (0 = unvoiced)
    phase: torch.Tensor    # (B,) float64 oscillator phase, radians in [0, 2 pi)
    sample: torch.Tensor   # (B,) int64 absolute index of the next output sample

    @staticmethod
    def initial(batch: int, n_harmonics: int, n_bands: int, device: torch.device | None = None,
                sample_offset: torch.Tensor | None = None) -> "SynthState":
        zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
        offset = sample_offset if sample_offset is not None else torch.zeros(batch, dtype=torch.int64, device=device)
        return SynthState(zeros(batch, n_harmonics), zeros(batch, n_bands), zeros(batch),
                          torch.zeros(batch, dtype=torch.float64, device=device), offset.to(torch.int64))


def _per_sample(previous: torch.Tensor, frames: torch.Tensor, hop: int) -> torch.Tensor:
    """(B, C), (B, F, C) -> (B, F*hop, C): block t ramps from frame t-1 to frame t."""
    seq = torch.cat([previous.unsqueeze(1), frames], dim=1)
    u = (torch.arange(hop, device=frames.device, dtype=frames.dtype) + 0.5) / hop
    start, end = seq[:, :-1, None, :], seq[:, 1:, None, :]
    ramp = start + (end - start) * u[None, None, :, None]
    return ramp.reshape(frames.shape[0], frames.shape[1] * hop, frames.shape[2])


def _f0_per_sample(previous: torch.Tensor, f0: torch.Tensor, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample f0 (voiced side held across voicing changes) and voicing ramp, (B, F*hop) each."""
    seq = torch.cat([previous.unsqueeze(1), f0], dim=1)
    start, end = seq[:, :-1], seq[:, 1:]
    start_filled = torch.where(start > 0, start, end)
    end_filled = torch.where(end > 0, end, start)
    u = (torch.arange(hop, device=f0.device, dtype=f0.dtype) + 0.5) / hop
    hz = (start_filled[..., None] + (end_filled - start_filled)[..., None] * u).reshape(f0.shape[0], -1)
    voiced = ((start > 0).to(f0.dtype)[..., None] * (1 - u) + (end > 0).to(f0.dtype)[..., None] * u)
    return hz, voiced.reshape(f0.shape[0], -1)


def synthesize_block(
    amps: torch.Tensor,
    gains: torch.Tensor,
    f0: torch.Tensor,
    state: SynthState,
    bank: torch.Tensor,
    sample_rate: int,
    hop: int,
) -> tuple[torch.Tensor, SynthState]:
    """(B, F, K) amps, (B, F, n_bands) gains, (B, F) f0 -> (B, F*hop) audio and the next state."""
    batch, frames, n_harm = amps.shape
    n = frames * hop
    hz, voiced = _f0_per_sample(state.f0, f0, hop)

    # Running phase in float64; wrapped before it meets float32.
    increments = hz.to(torch.float64) * (2 * math.pi / sample_rate)
    phase = state.phase[:, None] + torch.cumsum(increments, dim=1)
    # Phase at the *start* of each sample, so the first sample continues the last block.
    phase_start = torch.cat([state.phase[:, None], phase[:, :-1]], dim=1)
    wrapped = torch.remainder(phase_start, 2 * math.pi).to(amps.dtype)

    k = torch.arange(1, n_harm + 1, device=amps.device, dtype=amps.dtype)
    amp_samples = _per_sample(state.amps, amps, hop)
    audible = (hz[..., None] * k < sample_rate / 2).to(amps.dtype)
    harmonic = (amp_samples * audible * torch.sin(wrapped[..., None] * k)).sum(-1) * voiced

    half = (bank.shape[-1] - 1) // 2
    index = state.sample[:, None] + torch.arange(-half, n + half, device=amps.device)
    white = hash_noise(index).unsqueeze(1)                                 # (B, 1, n + 2*half)
    bands = F.conv1d(white, bank.flip(-1))                                 # (B, n_bands, n)
    gain_samples = _per_sample(state.gains, gains, hop)                    # (B, n, n_bands)
    noise = (bands.transpose(1, 2) * gain_samples).sum(-1)

    next_state = SynthState(
        amps=amps[:, -1].detach() if frames else state.amps,
        gains=gains[:, -1].detach() if frames else state.gains,
        f0=f0[:, -1].detach() if frames else state.f0,
        phase=torch.remainder(phase[:, -1], 2 * math.pi).detach() if frames else state.phase,
        sample=state.sample + n,
    )
    return harmonic + noise, next_state
