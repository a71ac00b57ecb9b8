"""Noise grids and preconditioning identities of the EDM / consistency parametrisation."""

import math

import pytest
import torch

from core.config import load_config
from core.model.edm import EDMDenoiser, NoiseSchedule, distillation_grid, karras_ramp
from core.model.samplers import consistency_sigmas, teacher_sigmas


@pytest.fixture()
def schedule() -> NoiseSchedule:
    return NoiseSchedule.from_config(load_config("paper").edm)


def test_teacher_grid_for_50_steps_matches_paper(schedule):
    sigmas = teacher_sigmas(50, schedule)
    assert len(sigmas) == 51
    assert sigmas[0] == pytest.approx(80.0)
    assert sigmas[1] == pytest.approx(71.663, abs=1e-3)
    assert sigmas[-2] == pytest.approx(0.00323, abs=1e-5)
    assert sigmas[-1] == 0.0
    assert torch.all(sigmas[:-1] > schedule.sigma_min)  # sigma_min itself is excluded
    assert torch.all(sigmas[1:] < sigmas[:-1])


def test_distillation_grid_is_the_papers_formula(schedule):
    grid = distillation_grid(schedule, 25)
    i = torch.arange(1, 26, dtype=torch.float64)
    lo, hi, rho = schedule.sigma_min ** (1 / 7), schedule.sigma_max ** (1 / 7), 7
    paper = (lo + (i - 1) / 24 * (hi - lo)) ** rho
    assert torch.allclose(grid, paper, rtol=1e-12)
    assert grid[0] == pytest.approx(0.002) and grid[-1] == pytest.approx(80.0)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_small_grids_are_finite_and_decreasing(schedule, steps):
    for sigmas in (teacher_sigmas(steps, schedule), consistency_sigmas(steps, schedule)):
        assert len(sigmas) == steps + 1
        assert torch.isfinite(sigmas).all()
        assert torch.all(sigmas[1:] < sigmas[:-1])
    assert teacher_sigmas(1, schedule).tolist() == [80.0, 0.0]
    assert consistency_sigmas(1, schedule).tolist() == pytest.approx([80.0, 0.002])


def test_ramp_rejects_empty_grid():
    with pytest.raises(ValueError):
        karras_ramp(0, 0.002, 80.0, 7.0)


class _Echo(torch.nn.Module):
    """A network that returns a fixed tensor, so D's algebra can be checked exactly."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = value
        self.seen_input: torch.Tensor | None = None
        self.seen_noise: torch.Tensor | None = None

    def forward(self, x, c_noise, cond):
        self.seen_input, self.seen_noise = x, c_noise
        return self.value.expand_as(x)


def test_boundary_condition_returns_input_exactly(schedule):
    x = torch.randn(2, 80, 10, dtype=torch.float64)
    denoiser = EDMDenoiser(_Echo(torch.full((1,), 123.0, dtype=torch.float64)), schedule)
    out = denoiser(x, torch.full((2,), schedule.sigma_min, dtype=torch.float64), None)
    assert torch.equal(out, x)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 80.0])
def test_scalings_at_chosen_sigmas(schedule, sigma):
    sd, s_min = 0.5, 0.002
    f_value = torch.tensor(0.7, dtype=torch.float64)
    network = _Echo(f_value)
    denoiser = EDMDenoiser(network, schedule)
    x = torch.full((1, 4, 3), 2.0, dtype=torch.float64)
    out = denoiser(x, sigma, None)
    c_skip = sd**2 / ((sigma - s_min) ** 2 + sd**2)
    c_out = (sigma - s_min) * sd / math.sqrt(sigma**2 + sd**2)
    c_in = 1 / math.sqrt(sigma**2 + sd**2)
    assert torch.allclose(out, torch.full_like(x, c_skip * 2.0 + c_out * 0.7))
    assert torch.allclose(network.seen_input, x * c_in)
    assert network.seen_noise.item() == pytest.approx(math.log(sigma) / 4)


def test_known_scaling_values(schedule):
    denoiser = EDMDenoiser(_Echo(torch.zeros(1)), schedule)
    c_skip, c_out, c_in = denoiser.scalings(torch.tensor([0.5], dtype=torch.float64))
    assert c_skip.item() == pytest.approx(0.25 / (0.498**2 + 0.25))
    assert c_out.item() == pytest.approx(0.498 * 0.5 / math.sqrt(0.5))
    assert c_in.item() == pytest.approx(1 / math.sqrt(0.5))
    # The loss weight makes the effective target unit-variance: lambda = 1 / c_out^2 without the boundary shift.
    assert denoiser.loss_weight(torch.tensor(0.5)).item() == pytest.approx(0.5 / 0.0625)
