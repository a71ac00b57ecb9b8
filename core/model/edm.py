"""EDM noise levels and preconditioning (Karras et al. 2022, as CoMoSVC uses them).

The network never sees a noise level directly: `EDMDenoiser` wraps it and
applies the preconditioning. CoMoSVC's c_skip/c_out are "boundary-aware":
they use (sigma - sigma_min) so that D(x, sigma_min) = x exactly, which is the
boundary condition a consistency model needs. The teacher uses the same
parametrisation so the student can start as an exact copy of it.

    c_skip  = sd^2 / ((s - s_min)^2 + sd^2)
    c_out   = (s - s_min) * sd / sqrt(s^2 + sd^2)
    c_in    = 1 / sqrt(s^2 + sd^2)
    c_noise = ln(s) / 4
    D(x, s) = c_skip * x + c_out * F(c_in * x, c_noise, cond)

All mels here are normalised to [-1, 1] (core.audio.mel.normalize).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.config import EDMConfig


@dataclass(frozen=True)
class NoiseSchedule:
    """The EDM constants a denoiser, its samplers and its training loss share.

    p_mean / p_std: ln(sigma) ~ N(p_mean, p_std^2) for the teacher's training noise.
    teacher_floor: the lowest level the teacher's ODE sampler visits (0: the paper's grid; see samplers.py).
    teacher_churn: EDM's S_churn for the teacher's sampler (0: the paper's deterministic ODE; samplers.py).
    student_latent_scale: the consistency sampler starts from this x sigma_max x z (1: the paper; samplers.py).
    singer_guidance: the teacher's sampler and distillation step guide the singer by this (0: the paper; guidance.py).
    """

    sigma_min: float
    sigma_max: float
    sigma_data: float
    rho: float
    p_mean: float
    p_std: float
    teacher_floor: float = 0.0
    teacher_churn: float = 0.0
    student_latent_scale: float = 1.0
    singer_guidance: float = 0.0

    @classmethod
    def from_config(cls, edm: EDMConfig) -> "NoiseSchedule":
        return cls(edm.sigma_min, edm.sigma_max, edm.sigma_data, edm.rho, edm.p_mean, edm.p_std, edm.teacher_floor,
                   edm.teacher_churn, edm.student_latent_scale, edm.singer_guidance)


def karras_ramp(n: int, sigma_lo: float, sigma_hi: float, rho: float) -> torch.Tensor:
    """n noise levels from sigma_hi DOWN to sigma_lo, evenly spaced in sigma^(1/rho).

    float64 so that grids are exact enough to compare against published values;
    n = 1 gives [sigma_hi] (no division by n - 1 = 0).
    """
    if n < 1:
        raise ValueError(f"a noise grid needs at least one point, got {n}")
    if n == 1:
        return torch.tensor([sigma_hi], dtype=torch.float64)
    ramp = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    hi, lo = sigma_hi ** (1.0 / rho), sigma_lo ** (1.0 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def distillation_low_end(schedule: NoiseSchedule) -> float:
    """Where the distillation grid (and so the student's trained range) ends: the teacher's floor, or sigma_min."""
    return schedule.teacher_floor if schedule.teacher_floor > 0 else schedule.sigma_min


def distillation_grid(schedule: NoiseSchedule, n_points: int) -> torch.Tensor:
    """The consistency-distillation grid t_1 < ... < t_N = sigma_max (ascending).

    t_1 is sigma_min (the paper), or the teacher's floor when there is one: the student then
    learns the map of the teacher's own floored sampler (see losses.py). Index 0 of the
    returned tensor is t_1 (the paper counts from 1).
    """
    return karras_ramp(n_points, distillation_low_end(schedule), schedule.sigma_max, schedule.rho).flip(0)


class EDMDenoiser(nn.Module):
    """D(x, sigma, cond) around a network F(x_in, c_noise, cond) that knows nothing of sigma."""

    def __init__(self, network: nn.Module, schedule: NoiseSchedule) -> None:
        super().__init__()
        self.network = network
        self.schedule = schedule

    def scalings(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(c_skip, c_out, c_in) for each sigma, same shape as sigma."""
        sd, s_min = self.schedule.sigma_data, self.schedule.sigma_min
        c_skip = sd**2 / ((sigma - s_min) ** 2 + sd**2)
        c_out = (sigma - s_min) * sd / (sigma**2 + sd**2).sqrt()
        c_in = 1.0 / (sigma**2 + sd**2).sqrt()
        return c_skip, c_out, c_in

    @staticmethod
    def noise_conditioning(sigma: torch.Tensor) -> torch.Tensor:
        return sigma.log() / 4.0

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, n_mels, T) noisy mel; sigma: scalar or (B,); cond: (B, C, T) summed condition."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.ndim == 0:
            sigma = sigma.expand(x.shape[0])
        c_skip, c_out, c_in = (c[:, None, None] for c in self.scalings(sigma))
        f_x = self.network(x * c_in, self.noise_conditioning(sigma), cond)
        return c_skip * x + c_out * f_x

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        """EDM's lambda(sigma) = (s^2 + sd^2) / (s * sd)^2, which makes the target unit-variance."""
        sd = self.schedule.sigma_data
        return (sigma**2 + sd**2) / (sigma * sd) ** 2
