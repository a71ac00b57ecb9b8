"""Samplers against denoisers whose answers are known in closed form."""

import pytest
import torch

from core.config import load_config
from core.model.edm import NoiseSchedule
from core.model.samplers import consistency_sampler, consistency_sigmas, euler_sampler, heun_sampler, teacher_sigmas

MEAN, SPREAD = 0.3, 0.5


def _schedule() -> NoiseSchedule:
    return NoiseSchedule.from_config(load_config("paper").edm)


def _gaussian_denoiser(x, sigma, cond):
    """The exact D for data ~ N(MEAN, SPREAD^2) per element."""
    return MEAN + SPREAD**2 / (sigma[:, None, None] ** 2 + SPREAD**2) * (x - MEAN)


@pytest.mark.parametrize("sampler", [euler_sampler, heun_sampler])
def test_ode_samplers_converge_to_the_data_distribution(sampler):
    schedule = _schedule()
    z = torch.randn(2, 40, 500, dtype=torch.float64)
    spread_error = {}
    for steps in (1, 5, 50):
        out = sampler(_gaussian_denoiser, z * 80.0, teacher_sigmas(steps, schedule), None)
        assert torch.isfinite(out).all()
        assert out.mean().item() == pytest.approx(MEAN, abs=0.01)
        spread_error[steps] = abs(out.std().item() - SPREAD)
    assert spread_error[50] < spread_error[5] < spread_error[1]
    assert spread_error[50] < 0.03


def test_heun_is_more_accurate_than_euler_for_the_same_grid():
    schedule = _schedule()
    z = torch.randn(1, 40, 1000, dtype=torch.float64)
    sigmas = teacher_sigmas(20, schedule)
    euler = abs(euler_sampler(_gaussian_denoiser, z * 80.0, sigmas, None).std().item() - SPREAD)
    heun = abs(heun_sampler(_gaussian_denoiser, z * 80.0, sigmas, None).std().item() - SPREAD)
    assert heun < euler


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_consistency_sampler_evaluates_at_its_grid_and_renoises_from_sigma_min(steps):
    schedule = _schedule()
    target = torch.full((1, 4, 6), 0.25, dtype=torch.float64)
    seen_sigmas, seen_inputs = [], []

    def perfect(x, sigma, cond):
        seen_sigmas.append(float(sigma[0]))
        seen_inputs.append(x.clone())
        return target

    unit = torch.ones_like(target)
    out = consistency_sampler(perfect, unit, consistency_sigmas(steps, schedule), None, lambda k: unit * k,
                              schedule.sigma_min)
    assert torch.equal(out, target)
    assert seen_sigmas == pytest.approx(consistency_sigmas(steps, schedule)[:-1].tolist())
    assert torch.allclose(seen_inputs[0], unit * 80.0)
    for k, (sigma, x) in enumerate(zip(seen_sigmas[1:], seen_inputs[1:]), start=1):
        assert torch.allclose(x, target + (sigma**2 - 0.002**2) ** 0.5 * k)


def test_multi_step_without_renoise_is_an_error():
    with pytest.raises(ValueError):
        consistency_sampler(lambda x, s, c: x, torch.zeros(1, 2, 3), consistency_sigmas(2, _schedule()), None)


def test_a_teacher_floor_ends_the_grid_there_with_the_same_number_of_evaluations():
    from dataclasses import replace

    from core.config import load_config
    from core.model.edm import NoiseSchedule

    paper = NoiseSchedule.from_config(load_config("paper").edm)
    assert paper.teacher_floor == 0.0
    floored = replace(paper, teacher_floor=0.4)
    for steps in (1, 4, 50):
        grid = teacher_sigmas(steps, floored)
        assert len(grid) == steps + 1 and float(grid[0]) == 80.0 and float(grid[-1]) == 0.0
        assert float(grid[-2]) == pytest.approx(0.4 if steps > 1 else 80.0, rel=1e-12)
        assert bool(torch.all(grid[:-1] >= 0.4 - 1e-12)) and bool(torch.all(grid[1:] < grid[:-1]))
    # the paper's grid is untouched: its last evaluation is far below the floor
    assert float(teacher_sigmas(50, paper)[-2]) < 0.01


def test_churn_raises_each_level_with_fresh_noise_before_the_step():
    schedule = _schedule()
    sigmas = teacher_sigmas(4, schedule)
    seen = []

    def recording(x, sigma, cond):
        seen.append((float(sigma[0]), x.clone()))
        return torch.zeros_like(x)

    start = torch.ones(1, 2, 3, dtype=torch.float64) * 80.0
    draws = lambda k: torch.full_like(start, float(k))  # noqa: E731
    out = euler_sampler(recording, start, sigmas, None, churn=1.0, noise=draws)
    gamma = 1.0 / 4  # S_churn / steps, under the sqrt(2) - 1 cap
    x = start
    for k, (level, (seen_sigma, seen_x)) in enumerate(zip(sigmas[:-1].tolist(), seen), start=1):
        raised = level * (1 + gamma)
        x = x + (raised**2 - level**2) ** 0.5 * k
        assert seen_sigma == pytest.approx(raised)
        assert torch.allclose(seen_x, x)
        x = x + (float(sigmas[k]) - raised) * x / raised  # the Euler step with D = 0
    assert torch.allclose(out, x)


def test_heun_with_churn_evaluates_at_the_raised_level_then_at_the_next():
    schedule = _schedule()
    sigmas = teacher_sigmas(3, schedule)
    seen = []

    def recording(x, sigma, cond):
        seen.append(float(sigma[0]))
        return torch.zeros_like(x)

    start = torch.ones(1, 2, 3, dtype=torch.float64) * 80.0
    heun_sampler(recording, start, sigmas, None, churn=0.6, noise=lambda k: torch.zeros_like(start))
    levels, gamma = sigmas.tolist(), 0.6 / 3
    expected = []
    for level, level_next in zip(levels[:-1], levels[1:]):
        expected.append(level * (1 + gamma))
        if level_next > 0:
            expected.append(level_next)  # the corrector, at the grid's next level; the step to 0 stays Euler
    assert seen == pytest.approx(expected)


def test_churn_is_capped_so_no_step_more_than_doubles_the_variance():
    from core.model.samplers import churn_gamma

    assert churn_gamma(10.0, 50) == pytest.approx(0.2)
    assert churn_gamma(10.0, 4) == pytest.approx(2**0.5 - 1)
    assert churn_gamma(0.0, 4) == 0.0
    with pytest.raises(ValueError):
        churn_gamma(-1.0, 4)


# Euler loses a little spread to churn at 50 steps (0.45 for 0.5 here) and converges more slowly.
@pytest.mark.parametrize(("sampler", "steps"), [(euler_sampler, 200), (heun_sampler, 50)])
def test_churned_samplers_still_reach_the_data_distribution(sampler, steps):
    schedule = _schedule()
    z = torch.randn(2, 40, 500, dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    fresh = lambda k: torch.randn(z.shape, dtype=torch.float64, generator=generator)  # noqa: E731
    out = sampler(_gaussian_denoiser, z * 80.0, teacher_sigmas(steps, schedule), None, churn=10.0, noise=fresh)
    assert out.mean().item() == pytest.approx(MEAN, abs=0.01)
    assert out.std().item() == pytest.approx(SPREAD, abs=0.03)
    plain = sampler(_gaussian_denoiser, z * 80.0, teacher_sigmas(steps, schedule), None)
    assert not torch.allclose(out, plain)  # the churn noise did enter


def test_churn_without_a_noise_function_is_an_error_and_zero_churn_needs_none():
    sigmas = teacher_sigmas(3, _schedule())
    start = torch.ones(1, 2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="noise"):
        euler_sampler(_gaussian_denoiser, start, sigmas, None, churn=1.0)
    assert torch.isfinite(euler_sampler(_gaussian_denoiser, start, sigmas, None, churn=0.0)).all()
