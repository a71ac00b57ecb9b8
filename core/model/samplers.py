"""Samplers: plain functions of (denoiser, x, sigmas, cond), k-diffusion style.

`denoiser(x, sigma, cond)` is any callable returning D(x, sigma) (an
`EDMDenoiser`). Grids are float64 tensors of noise levels, high to low.

Teacher grid (`teacher_sigmas(K)`): the Karras ramp of K + 1 points from
sigma_max to sigma_min, sigma_min dropped, then 0 — K network evaluations for
Euler, the last step landing exactly on D(x, t_{K-1}). K = 50 gives 80,
71.66, ..., 0.00323, 0 (as in the published CoMoSVC sampler).

With a teacher floor f > 0 (`edm.teacher_floor`) the grid is instead K Karras points from sigma_max
down to f, then 0: still K evaluations, the last one D(x, f). A small denoiser trained briefly
learns little below some noise level (bench/bench_denoiser.py: error / sigma^2 near 1 there), so
the fine steps of a long ODE down there pass the leftover noise of the earlier steps straight
through to the output: more steps then sounded worse. Ending where the denoiser still works stops
that (BENCHMARKS.md, "The teacher's floor").

Consistency grid (`consistency_sigmas(K)`): the Karras ramp of K + 1 points
from sigma_max down to sigma_min. The student denoises sigma_max noise in one
evaluation, then for each INTERIOR point t of that grid re-noises the estimate
to t (adding sqrt(t^2 - sigma_min^2) z, since the estimate sits at sigma_min)
and denoises again: K evaluations in all. K = 1: D(80 z, 80). K = 2: one
re-noise at 2.515 (the middle of a 3-point grid). K = 4: re-noise at 17.53,
2.515 and 0.170. This is the published CoMoSVC code's choice (a fresh K + 1 point
Karras grid), not points of the N = 25 distillation grid. With a teacher floor the
grid ends at the floor instead of sigma_min, as the distillation grid does.

Latent scale (`edm.student_latent_scale`, not in the paper): the consistency sampler's starting
noise is drawn at s x sigma_max instead of sigma_max, a sampling temperature as VITS-family
converters use for their prior (so-vits-svc infers with a noise scale of 0.4). The one-step student
maps its noise to detail the condition does not fix; drawn smaller, it adds less of that, which
on held-out voices scored higher in DNSMOS (BENCHMARKS.md, "A sampling temperature for the
student"). 1 is the paper. No training loss uses it; the teacher's samplers start at sigma_max.

Churn (`edm.teacher_churn`, EDM's S_churn; Karras et al. 2022, Algorithm 2): before each teacher
step the sample is raised from sigma to sigma (1 + gamma), gamma = min(S_churn / K, sqrt(2) - 1), by
adding fresh noise, and the step starts from there. A deterministic ODE carries every error of an
early step to the end; fresh noise lets later steps correct it. With Euler steps on the floored
grid, 50 steps sounded worse than 4; with churn 20 they did not (BENCHMARKS.md, "Churn").
0 is the paper's deterministic sampler.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from core.model.edm import NoiseSchedule, distillation_low_end, karras_ramp

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# noise(k): unit-variance noise shaped like x for the k-th fresh draw (k = 1, 2, ...).
NoiseDraw = Callable[[int], torch.Tensor]


def teacher_sigmas(steps: int, schedule: NoiseSchedule) -> torch.Tensor:
    """steps + 1 levels: Karras points from sigma_max (sigma_min excluded, or down to the floor), then 0."""
    if steps < 1:
        raise ValueError(f"the teacher needs at least one step, got {steps}")
    if schedule.teacher_floor > 0:
        ramp = karras_ramp(steps, schedule.teacher_floor, schedule.sigma_max, schedule.rho)
        return torch.cat([ramp, ramp.new_zeros(1)])
    ramp = karras_ramp(steps + 1, schedule.sigma_min, schedule.sigma_max, schedule.rho)[:-1]
    return torch.cat([ramp, ramp.new_zeros(1)])


def consistency_sigmas(steps: int, schedule: NoiseSchedule) -> torch.Tensor:
    """steps + 1 levels from sigma_max to the distillation grid's low end; the student evaluates all but the last.

    With a teacher floor the student was trained only down to the floor, so its re-noising
    points stay at or above it.
    """
    if steps < 1:
        raise ValueError(f"the student needs at least one step, got {steps}")
    return karras_ramp(steps + 1, distillation_low_end(schedule), schedule.sigma_max, schedule.rho)


def _level(sigma: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One noise level per batch row, in x's dtype and device."""
    return torch.full((x.shape[0],), float(sigma), dtype=x.dtype, device=x.device)


def churn_gamma(churn: float, steps: int) -> float:
    """EDM's per-step raise factor: S_churn spread over the steps, capped so no step more than doubles the variance."""
    if churn < 0:
        raise ValueError(f"churn must be >= 0, got {churn}")
    return min(churn / steps, math.sqrt(2.0) - 1.0)


def _churned(x: torch.Tensor, sigma: float, gamma: float, noise: NoiseDraw | None, draw: int) -> tuple[torch.Tensor, float]:
    """(x raised to sigma (1 + gamma) with fresh noise, that level); x and sigma as they are when gamma is 0."""
    if gamma <= 0.0:
        return x, sigma
    if noise is None:
        raise ValueError("a churned sampler needs a noise function")
    raised = sigma * (1.0 + gamma)
    return x + math.sqrt(raised * raised - sigma * sigma) * noise(draw), raised


@torch.no_grad()
def euler_sampler(
    denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, cond: torch.Tensor,
    churn: float = 0.0, noise: NoiseDraw | None = None,
) -> torch.Tensor:
    """Euler steps of the probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma, with optional churn.

    x must already be scaled to sigmas[0] (e.g. sigmas[0] * randn); noise(k) feeds the k-th step's churn.
    """
    gamma = churn_gamma(churn, len(sigmas) - 1)
    for draw, (level, level_next) in enumerate(zip(sigmas[:-1], sigmas[1:]), start=1):
        x, sigma = _churned(x, float(level), gamma, noise, draw)
        denoised = denoiser(x, _level(sigma, x), cond)
        # Slope first, then the step (the published CoMoSVC order): at sigma = 80 the
        # other rounding order differs from imported official models by ~1e-4.
        slope = (x - denoised) / sigma
        x = x + (float(level_next) - sigma) * slope
    return x


@torch.no_grad()
def heun_sampler(
    denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, cond: torch.Tensor,
    churn: float = 0.0, noise: NoiseDraw | None = None,
) -> torch.Tensor:
    """Heun's second-order method (EDM Algorithm 2; churn 0 gives Algorithm 1); the step to 0 stays Euler."""
    gamma = churn_gamma(churn, len(sigmas) - 1)
    for draw, (level, level_next) in enumerate(zip(sigmas[:-1], sigmas[1:]), start=1):
        x, s = _churned(x, float(level), gamma, noise, draw)
        s_next = float(level_next)
        slope = (x - denoiser(x, _level(s, x), cond)) / s
        x_euler = x + (s_next - s) * slope
        if s_next == 0.0:
            x = x_euler
            continue
        slope_next = (x_euler - denoiser(x_euler, _level(level_next, x), cond)) / s_next
        x = x + (s_next - s) * 0.5 * (slope + slope_next)
    return x


@torch.no_grad()
def consistency_sampler(
    denoiser: Denoiser,
    latent: torch.Tensor,
    sigmas: torch.Tensor,
    cond: torch.Tensor,
    renoise: NoiseDraw | None = None,
    sigma_min: float | None = None,
) -> torch.Tensor:
    """One-step (len(sigmas) - 1 == 1) or multi-step consistency sampling.

    latent: the starting noise in units of sigmas[0], which scales it here (unit variance in the
    paper; s times that with a latent scale s); renoise(k) gives the unit noise for the k-th
    re-noising (k = 1, 2, ...), needed only for K > 1; sigma_min defaults to sigmas[-1].
    """
    s_min = float(sigmas[-1]) if sigma_min is None else sigma_min
    x = denoiser(latent * float(sigmas[0]), _level(sigmas[0], latent), cond)
    for k, sigma in enumerate(sigmas[1:-1], start=1):
        if renoise is None:
            raise ValueError("multi-step consistency sampling needs a renoise function")
        s = float(sigma)
        x = denoiser(x + (s * s - s_min * s_min) ** 0.5 * renoise(k), _level(sigma, x), cond)
    return x
