"""Training losses for the teacher (EDM) and the student (consistency distillation).

For core/train to call once per batch; mels are NORMALISED (B, n_mels, T), inputs
are the matching `ConditionInputs` (T frames):

    teacher = AcousticModel.from_config(cfg, n_singers)
    loss = edm_loss(teacher, mel, inputs)                 # then backward / AdamW step

    student, ema = make_student(teacher)                  # copies; teacher is frozen
    loss = consistency_distillation_loss(student, ema, teacher, mel, inputs, cfg.edm.distill_steps)
    ...backward / step...
    ema_update(ema, student, cfg.edm.ema_decay)           # after every optimiser step

Both take an optional `generator` for reproducible noise and an optional
`mask` (B, T) of valid frames (1) for padded batches. The models may be wrapped
(DistributedDataParallel): the losses call the wrapper and read constants from
its `.module`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.edm import distillation_grid


def _unwrap(model: nn.Module) -> AcousticModel:
    """The AcousticModel inside a DDP / DataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of (B, M, T) or (B, T) values over the valid frames of a (B, T) mask."""
    if mask is None:
        return values.mean()
    weights = mask.to(values.dtype)
    if values.dim() == 3:
        weights = weights[:, None, :]
    weights = weights.expand_as(values)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def one_step_outputs(student: nn.Module, inputs: ConditionInputs, generator: torch.Generator | None) -> torch.Tensor:
    """D(sigma_max z, sigma_max): the student's one-step mel, as conversion makes it, with gradient."""
    model = _unwrap(student)
    sigma_max = model.schedule.sigma_max
    device = inputs.f0.device
    noise = torch.randn((inputs.batch_size, model.n_mels, inputs.frames), generator=generator, device=device)
    return student(noise * sigma_max, torch.full((inputs.batch_size,), sigma_max, device=device), inputs)


def edm_loss(
    model: nn.Module,
    mel: torch.Tensor,
    inputs: ConditionInputs,
    mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """EDM denoising loss: ln(sigma) ~ N(p_mean, p_std^2), weight (s^2 + sd^2) / (s sd)^2."""
    schedule = _unwrap(model).schedule
    batch = mel.shape[0]
    normal = torch.randn(batch, generator=generator, device=mel.device, dtype=mel.dtype)
    sigma = (normal * schedule.p_std + schedule.p_mean).exp()
    noise = torch.randn(mel.shape, generator=generator, device=mel.device, dtype=mel.dtype)
    denoised = model(mel + sigma[:, None, None] * noise, sigma, inputs)
    weight = _unwrap(model).denoiser.loss_weight(sigma)[:, None, None]
    return masked_mean(weight * (denoised - mel) ** 2, mask)


def make_student(teacher: AcousticModel) -> tuple[AcousticModel, AcousticModel]:
    """(student, ema_student): trainable copy of the teacher and its EMA target; freezes the teacher."""
    teacher.requires_grad_(False).eval()
    student = copy.deepcopy(teacher).requires_grad_(True).train()
    ema = copy.deepcopy(teacher).requires_grad_(False).eval()
    return student, ema


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, for parameters and float buffers."""
    for ema_p, p in zip(ema.parameters(), model.parameters()):
        ema_p.lerp_(p.detach(), 1.0 - decay)
    for ema_b, b in zip(ema.buffers(), model.buffers()):
        if ema_b.is_floating_point():
            ema_b.copy_(b)


def _stratified_links(batch: int, links: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """One link per item, each uniform on 0..links-1, but the batch takes distinct links first.

    Per-link losses differ by orders of magnitude, so independent draws let the
    batch mean (and the gradient) swing with how many mid-sigma links came up;
    drawing without replacement keeps every item's marginal uniform (the same
    expected loss) while spreading each batch over the grid. In the tiny runs of
    BENCHMARKS.md its effect on the loss's noise was too small to measure.
    """
    rounds = -(-batch // links)
    perms = [torch.randperm(links, generator=generator, device=device) for _ in range(rounds)]
    return torch.cat(perms)[:batch]


def consistency_distillation_loss(
    student: nn.Module,
    ema_student: AcousticModel,
    teacher: AcousticModel,
    mel: torch.Tensor,
    inputs: ConditionInputs,
    n_points: int,
    mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    links: torch.Tensor | None = None,
) -> torch.Tensor:
    """Consistency distillation (CoMoSVC eq. 9-10) on the N-point Karras grid t_1 .. t_N = sigma_max.

    n ~ U{1..N-1}; x_{n+1} = y + t_{n+1} z; one Euler step of the frozen teacher
    from t_{n+1} to t_n; target = EMA student at (x_n, t_n) without gradient;
    loss = squared L2 between the student at (x_{n+1}, t_{n+1}) and the target.
    `links` (B,) fixes the 0-based n - 1 per item instead of drawing it (validation).

    With a teacher floor (t_1 = floor, not sigma_min), the last link's target is the
    TEACHER's D(x_1, floor): that is how the teacher's floored sampler ends, and the
    student's own boundary condition (D(x, sigma_min) = x) lies below the grid, so
    without this anchor nothing would tie the student's output to a clean mel.
    """
    if n_points < 2:
        raise ValueError(f"the distillation grid needs at least 2 points, got {n_points}")
    grid = distillation_grid(_unwrap(student).schedule, n_points).to(device=mel.device, dtype=mel.dtype)
    batch = mel.shape[0]
    # 0-based index i = n - 1 in 0..N-2; t_n = grid[i], t_{n+1} = grid[i + 1].
    if links is None:
        index = _stratified_links(batch, n_points - 1, generator, mel.device)
    else:
        index = links.to(device=mel.device, dtype=torch.long)
    t_lo, t_hi = grid[index], grid[index + 1]
    noise = torch.randn(mel.shape, generator=generator, device=mel.device, dtype=mel.dtype)
    x_hi = mel + t_hi[:, None, None] * noise
    with torch.no_grad():
        teacher_denoised = teacher.guided(x_hi, t_hi, inputs)
        x_lo = x_hi + ((t_lo - t_hi) / t_hi)[:, None, None] * (x_hi - teacher_denoised)
        target = ema_student(x_lo, t_lo, inputs)
        if _unwrap(student).schedule.teacher_floor > 0:
            anchored = (index == 0).nonzero().flatten()
            if anchored.numel():
                target[anchored] = teacher.guided(x_lo[anchored], t_lo[anchored], inputs.rows(anchored))
    prediction = student(x_hi, t_hi, inputs)
    return masked_mean((prediction - target) ** 2, mask)
