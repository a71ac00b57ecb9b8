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

import torch

from core.audio.mel import mel_filterbank
from core.vocoder.hn_synth import noise_band_edges

# Offsets that make both priors zero-mean over the corpus's voiced frames (measured session 28):
# opening a gate then adds the envelope's shape, not a jump in level the network would first have
# to undo. The level stays the network's (its output bias).
HARMONIC_OFFSET = 0.8
NOISE_OFFSET = 2.9
# The width one harmonic is read over when the mel bands are narrower than it: 2 FFT bins, the
# value that reads equal-amplitude harmonic tones (f0 80-700 Hz) flat to about +-0.15 log10.
_MAIN_LOBE_BINS = 2.0


class EnvelopePrior(torch.nn.Module):
    """(B, n_mels, F) log10 mel and (B, F) f0 -> log10 priors for K harmonics and the noise bands."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float,
                 n_harmonics: int, noise_bands: int) -> None:
        super().__init__()
        freqs = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
        basis = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax).to(torch.float64)  # (n_mels, bins)
        weight = basis.sum(1).clamp(min=1e-12)
        centres = (basis * freqs).sum(1) / weight
        # Width over which one band spreads: half its support, never under the window's resolution.
        inside = basis > 0
        low = torch.where(inside, freqs, torch.full_like(freqs, float("inf"))).amin(1)
        high = torch.where(inside, freqs, torch.zeros_like(freqs)).amax(1)
        widths = torch.clamp((high - low) / 2.0, min=_MAIN_LOBE_BINS * sample_rate / n_fft)
        edges = noise_band_edges(noise_bands, sample_rate)  # the vocoder's own noise bands
        self.n_harmonics = n_harmonics
        self.register_buffer("centres", centres.to(torch.float32), persistent=False)
        self.register_buffer("log_widths", torch.log10(widths).to(torch.float32), persistent=False)
        # The noise bands sit still, so where they fall between the mel bands is found once.
        lower, upper, u = self._positions(((edges[:-1] + edges[1:]) / 2.0).to(torch.float32))
        self.register_buffer("noise_lower", lower, persistent=False)
        self.register_buffer("noise_upper", upper, persistent=False)
        self.register_buffer("noise_fraction", u, persistent=False)

    def _positions(self, hz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Where each frequency (any shape) falls between the band centres: lower, upper index, fraction."""
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
        u = self.noise_fraction
        level = log_mel[:, self.noise_lower] * (1 - u)[:, None] + log_mel[:, self.noise_upper] * u[:, None]
        return (level.transpose(1, 2) + NOISE_OFFSET) * gates
