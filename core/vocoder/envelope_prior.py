"""What the log-mel itself says each harmonic and noise band should weigh.

The built-in vocoder's network maps 80 mel bands to 96 harmonic amplitudes.
Where harmonic k lands on the mel axis depends on f0, so the network has to
learn a resampling that moves with pitch, and it learns it only for the
(envelope, pitch) pairs its training data holds. Far from a singer's range it
has seen few, and the envelope it renders drifts. This prior gives it that
resampling for free, per frame and without context (so streaming stays exact):

- harmonic k: the log10 mel magnitude read at k * f0 (linear between band
  centres), plus log10 of the bandwidth its energy is read over. The Slaney
  mel bands are area-normalised, so they read a density: a band wider than f0
  holds width / f0 harmonics and reads amplitude / f0; a band narrower than f0
  holds at most one, smeared over the band or the window's resolution,
  whichever is wider, and reads amplitude / that width. Together:
  amplitude ~ mel(f_k) * min(f0, width(f_k)).
- noise band b: the log10 mel magnitude read at the band's centre.

The network adds its own logits to the prior, through gates it learns
(core/vocoder/builtin.py), so the prior need only be right in shape.
"""

from __future__ import annotations

import math

import torch
import torchaudio.functional as AF

# Offsets that make both priors zero-mean over the corpus's voiced frames (measured session 28):
# opening a gate then adds the envelope's shape, not a jump in level the network would first have
# to undo. The level stays the network's (its output bias).
HARMONIC_OFFSET = 0.8
NOISE_OFFSET = 2.9
# The width one harmonic is read over when the mel bands are narrower than it: 2 FFT bins, the
# value that reads equal-amplitude harmonic tones (f0 80-700 Hz) flat to about +-0.15 log10.
_MAIN_LOBE_BINS = 2.0


def _hz_to_mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _mel_to_hz(m: float) -> float:
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


class EnvelopePrior(torch.nn.Module):
    """(B, n_mels, F) log10 mel and (B, F) f0 -> log10 priors for K harmonics and the noise bands."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float,
                 n_harmonics: int, noise_bands: int) -> None:
        super().__init__()
        freqs = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
        basis = AF.melscale_fbanks(n_fft // 2 + 1, fmin, fmax, n_mels, sample_rate, norm="slaney",
                                   mel_scale="slaney").T.to(torch.float64)           # (n_mels, bins)
        weight = basis.sum(1).clamp(min=1e-12)
        centres = (basis * freqs).sum(1) / weight
        # Width over which one band spreads: half its support, never under the window's main lobe.
        support = (basis > 0).to(torch.float64)
        low = torch.where(support > 0, freqs, torch.full_like(freqs, float("inf"))).amin(1)
        high = torch.where(support > 0, freqs, torch.zeros_like(freqs)).amax(1)
        lobe = _MAIN_LOBE_BINS * sample_rate / n_fft
        widths = torch.clamp((high - low) / 2.0, min=lobe)
        # Noise bands of hn_synth.noise_filter_bank: mel-spaced from 0 to Nyquist.
        edges = [_mel_to_hz(float(m)) for m in torch.linspace(0.0, _hz_to_mel(sample_rate / 2.0), noise_bands + 1)]
        noise_centres = torch.tensor([(a + b) / 2.0 for a, b in zip(edges[:-1], edges[1:])], dtype=torch.float64)
        self.n_harmonics = n_harmonics
        self.register_buffer("centres", centres.to(torch.float32), persistent=False)
        self.register_buffer("log_widths", torch.log10(widths).to(torch.float32), persistent=False)
        self.register_buffer("noise_centres", noise_centres.to(torch.float32), persistent=False)

    def _positions(self, hz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Where each frequency (B, F, N) falls between the band centres: lower, upper index, fraction."""
        centres = self.centres
        clamped = hz.clamp(min=float(centres[0]), max=float(centres[-1]))
        upper = torch.searchsorted(centres, clamped.contiguous()).clamp(1, len(centres) - 1)
        lower = upper - 1
        return lower, upper, (clamped - centres[lower]) / (centres[upper] - centres[lower])

    @staticmethod
    def _read(table: torch.Tensor, at: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Linear interpolation of a per-band table, (M,) or (B, F, M), at `_positions` -> (B, F, N)."""
        lower, upper, u = at
        if table.dim() == 1:
            return table[lower] * (1 - u) + table[upper] * u
        return torch.gather(table, 2, lower) * (1 - u) + torch.gather(table, 2, upper) * u

    def harmonics(self, log_mel: torch.Tensor, f0: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """(B, F, K) log10 amplitude prior, zero-mean, times `gates` (one per mel band) read at each
        harmonic. Unvoiced frames read no level (their harmonics only sound in voicing fades)."""
        k = torch.arange(1, self.n_harmonics + 1, device=f0.device, dtype=log_mel.dtype)
        voiced = f0 > 0
        f0 = torch.where(voiced, f0, torch.ones_like(f0)).to(log_mel.dtype)
        at = self._positions(f0[..., None] * k)
        level = self._read(log_mel.transpose(1, 2), at)
        spread = torch.minimum(self._read(self.log_widths, at), torch.log10(f0)[..., None])
        prior = (level + spread) * voiced[..., None].to(log_mel.dtype) + HARMONIC_OFFSET
        return prior * self._read(gates, at)

    def noise(self, log_mel: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """(B, F, bands) log10 gain prior, zero-mean: the mel read at each noise band's centre, times
        `gates` (one per noise band)."""
        batch, _, frames = log_mel.shape
        at = self._positions(self.noise_centres.expand(batch, frames, -1))
        return (self._read(log_mel.transpose(1, 2), at) + NOISE_OFFSET) * gates
