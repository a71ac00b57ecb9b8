"""Multi-resolution STFT loss (spectral convergence + log-magnitude L1), as in Parallel WaveGAN."""

from __future__ import annotations

import torch
import torch.nn as nn

# (n_fft, hop) pairs spanning 5 ms to 85 ms windows at 24 kHz.
DEFAULT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((128, 32), (256, 64), (512, 128), (1024, 256), (2048, 512))


class MultiResolutionSTFTLoss(nn.Module):
    def __init__(self, resolutions: tuple[tuple[int, int], ...] = DEFAULT_RESOLUTIONS, eps: float = 1e-5) -> None:
        super().__init__()
        self.resolutions = resolutions
        self.eps = eps
        for n_fft, _ in resolutions:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)

    def _magnitude(self, audio: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
        spec = torch.stft(audio, n_fft, hop_length=hop, window=getattr(self, f"window_{n_fft}"),
                          center=True, return_complex=True)
        return (spec.real.pow(2) + spec.imag.pow(2) + self.eps ** 2).sqrt()

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, T) each -> scalar loss, averaged over resolutions."""
        total = predicted.new_zeros(())
        for n_fft, hop in self.resolutions:
            p, t = self._magnitude(predicted, n_fft, hop), self._magnitude(target, n_fft, hop)
            convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=self.eps)
            log_l1 = (torch.log(p) - torch.log(t)).abs().mean()
            total = total + convergence + log_l1
        return total / len(self.resolutions)
