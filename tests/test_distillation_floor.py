"""Consistency distillation with a teacher floor: the grid ends at the floor, and its last link
is anchored to the teacher's D(x, floor), which is how the teacher's floored sampler ends."""

from dataclasses import replace

import pytest
import torch

from core.config import load_config
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.edm import NoiseSchedule, distillation_grid
from core.model.losses import consistency_distillation_loss
from core.model.samplers import consistency_sigmas, teacher_sigmas
from core.train.student import distilled_teacher_steps

FRAMES, N_POINTS = 24, 25


def _models(floor: float) -> tuple[AcousticModel, AcousticModel, AcousticModel, ConditionInputs]:
    cfg = load_config("tiny").replace({"edm.teacher_floor": floor, "model.n_singers": 2})
    # three DIFFERENT networks, so a target taken from the wrong one shows in the loss
    student, ema, teacher = (AcousticModel.from_config(cfg) for _ in range(3))
    for seed, model in enumerate((student, ema, teacher)):
        torch.manual_seed(seed)
        for p in model.parameters():
            p.data.normal_(0.0, 0.05)
        model.eval()
    gen = torch.Generator().manual_seed(5)
    inputs = ConditionInputs(torch.randn(3, FRAMES, cfg.features.content_dim, generator=gen),
                             200 + 50 * torch.rand(3, FRAMES, generator=gen), torch.rand(3, FRAMES, generator=gen),
                             torch.tensor([0, 1, 0]), torch.zeros(3))
    return student, ema, teacher, inputs


def _expected(student, teacher, target_model, mel, inputs, link: int, seed: int) -> float:
    """The loss written out for one fixed link, the target taken from `target_model`."""
    grid = distillation_grid(student.schedule, N_POINTS).to(mel.dtype)
    t_lo, t_hi = grid[link], grid[link + 1]
    noise = torch.randn(mel.shape, generator=torch.Generator().manual_seed(seed))
    x_hi = mel + t_hi * noise
    with torch.no_grad():
        x_lo = x_hi + (t_lo - t_hi) / t_hi * (x_hi - teacher(x_hi, t_hi, inputs))
        target = target_model(x_lo, t_lo, inputs)
        return float(((student(x_hi, t_hi, inputs) - target) ** 2).mean())


def _loss(student, ema, teacher, mel, inputs, link: int, seed: int) -> float:
    with torch.no_grad():
        links = torch.full((mel.shape[0],), link)
        return float(consistency_distillation_loss(student, ema, teacher, mel, inputs, N_POINTS,
                                                   generator=torch.Generator().manual_seed(seed), links=links))


def test_with_a_floor_the_last_link_targets_the_teacher_and_the_others_the_ema():
    # (without a floor the last link ends at sigma_min, where every D(x, sigma_min) is x: nothing to tell apart)
    student, ema, teacher, inputs = _models(0.4)
    mel = torch.rand(3, student.n_mels, FRAMES, generator=torch.Generator().manual_seed(2)) * 2 - 1
    last = _loss(student, ema, teacher, mel, inputs, link=0, seed=7)
    to_teacher = _expected(student, teacher, teacher, mel, inputs, link=0, seed=7)
    to_ema = _expected(student, teacher, ema, mel, inputs, link=0, seed=7)
    assert abs(to_teacher - to_ema) > 1e-3 * to_ema  # the two targets are told apart
    assert last == pytest.approx(to_teacher, rel=1e-5)
    # every other link keeps the EMA target
    middle = _loss(student, ema, teacher, mel, inputs, link=5, seed=7)
    assert middle == pytest.approx(_expected(student, teacher, ema, mel, inputs, link=5, seed=7), rel=1e-5)


def test_with_a_floor_the_distillation_grid_is_the_teachers_floored_grid():
    paper = NoiseSchedule.from_config(load_config("paper").edm)
    floored = replace(paper, teacher_floor=0.4)
    grid = distillation_grid(floored, N_POINTS)
    assert float(grid[0]) == pytest.approx(0.4) and float(grid[-1]) == 80.0
    # the teacher run the student learns: N - 1 Euler links to the floor, then D(x, floor)
    steps = distilled_teacher_steps(load_config("paper").replace({"edm.teacher_floor": 0.4}))
    assert steps == N_POINTS
    assert torch.allclose(teacher_sigmas(steps, floored)[:-1], grid.flip(0))
    assert distilled_teacher_steps(load_config("paper")) == N_POINTS - 1
    assert float(distillation_grid(paper, N_POINTS)[0]) == pytest.approx(0.002)
    # the student's re-noising points stay inside the range it was trained on
    assert float(consistency_sigmas(4, floored)[-2]) > 0.4
    assert float(consistency_sigmas(4, paper)[-2]) < 0.4
