"""Classifier-free guidance of the singer: the dropout that trains it, the guided denoiser, and where it is used."""

import dataclasses

import pytest
import torch

from core.config import ConfigError, from_stored_dict, load_config
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.edm import NoiseSchedule
from core.model.guidance import SingerGuided, drop_singers, without_singer
from core.model.samplers import heun_sampler, teacher_sigmas
from tests.test_data_fixtures import MICRO

SPREAD = 0.4


def _gaussian_denoiser(x, sigma, cond):
    """The exact D for data ~ N(cond, SPREAD^2) per element: cond is the data's mean."""
    return cond + SPREAD**2 / (sigma[:, None, None] ** 2 + SPREAD**2) * (x - cond)


def test_guided_ode_samples_the_extrapolated_mean():
    # For two Gaussians of one spread, D + g (D - D_u) is the exact denoiser of a Gaussian with mean
    # mu + g (mu - mu_u): the guided ODE must land there, with the spread unchanged.
    schedule = NoiseSchedule.from_config(load_config("paper").edm)
    z = torch.randn(1, 20, 4000, dtype=torch.float64)
    with_singer, without = torch.tensor(0.3, dtype=torch.float64), torch.tensor(-0.1, dtype=torch.float64)
    for g in (0.0, 1.5):
        guided = SingerGuided(_gaussian_denoiser, without, g)
        out = heun_sampler(guided, z * 80.0, teacher_sigmas(50, schedule), with_singer)
        assert out.mean().item() == pytest.approx(0.3 + g * 0.4, abs=0.01)
        assert out.std().item() == pytest.approx(SPREAD, abs=0.02)


def test_dropped_singers_are_zero_rows_of_one_hot_weights():
    ids = torch.tensor([0, 2, 1, 2, 0, 1, 1, 2] * 8)
    kept = drop_singers(ids, 3, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(kept, torch.nn.functional.one_hot(ids, 3).float())
    assert not drop_singers(ids, 3, 1.0, torch.Generator().manual_seed(0)).any()
    half = drop_singers(ids, 3, 0.5, torch.Generator().manual_seed(0))
    dropped = half.sum(1) == 0
    assert 0 < int(dropped.sum()) < len(ids)
    assert torch.equal(half[~dropped], kept[~dropped])
    assert torch.equal(half, drop_singers(ids, 3, 0.5, torch.Generator().manual_seed(0)))


def _reach_the_output(model: AcousticModel) -> None:
    """A fresh WaveNet's output layer is zero, so its answer ignores the condition; give it weights, and
    the singers rows far apart, so that the singer changes the answer."""
    with torch.no_grad():
        model.network.output_projection.weight.normal_(0.0, 0.3)
        model.conditioner.singer.weight.normal_()


def _tiny_model(guidance: float = 0.0) -> tuple[AcousticModel, ConditionInputs]:
    cfg = load_config("tiny", {**MICRO, "edm.singer_guidance": guidance})
    torch.manual_seed(0)
    model = AcousticModel.from_config(cfg, n_singers=3).eval()
    _reach_the_output(model)
    frames = 48
    inputs = ConditionInputs.single(torch.randn(frames, cfg.features.content_dim), torch.full((frames,), 220.0),
                                    torch.full((frames,), 0.1), 2)
    return model, inputs


def test_without_singer_removes_exactly_the_singers_row():
    model, inputs = _tiny_model()
    with torch.no_grad():
        gap = model.condition(inputs) - model.condition(without_singer(inputs, 3))
    expected = model.conditioner.singer.weight[2][None, :, None].expand_as(gap)
    assert torch.allclose(gap, expected, atol=1e-6)


def test_teacher_sampler_and_distillation_step_use_the_schedules_guidance():
    g = 2.0
    plain, inputs = _tiny_model(0.0)
    guided, _ = _tiny_model(g)
    unconditioned = without_singer(inputs, 3)
    # One Euler step from sigma_max to 0 returns D itself, so the guided sample is the extrapolation.
    one = dict(steps=1, churn=0.0, seed=4)
    expected = (1 + g) * plain.sample_teacher(inputs, **one) - g * plain.sample_teacher(unconditioned, **one)
    assert torch.allclose(guided.sample_teacher(inputs, **one), expected, atol=1e-3)  # float32 steps from 80
    assert torch.allclose(plain.sample_teacher(inputs, guidance=g, **one), expected, atol=1e-3)
    assert torch.equal(guided.sample_teacher(inputs, guidance=0.0, **one), plain.sample_teacher(inputs, **one))
    assert not torch.allclose(expected, plain.sample_teacher(inputs, **one), atol=2e-2)  # the singer matters
    x, sigma = torch.randn(1, plain.n_mels, inputs.frames), torch.tensor([3.0])
    with torch.no_grad():
        assert torch.equal(plain.guided(x, sigma, inputs), plain(x, sigma, inputs))
        step = (1 + g) * plain(x, sigma, inputs) - g * plain(x, sigma, unconditioned)
        assert torch.allclose(guided.guided(x, sigma, inputs), step, atol=1e-5)


def test_a_teacher_trained_with_full_dropout_never_sees_its_singers(tmp_path):
    from core.data.dataset import CachedDataset
    from core.data.preprocess import preprocess
    from core.train.teacher import build_teacher_system
    from tests.test_data_fixtures import make_corpus, micro_config

    root = make_corpus(tmp_path / "data", singers=2, files=2)
    preprocess(root, tmp_path / "cache", micro_config(), progress=False, log=lambda m: None)
    data = CachedDataset(tmp_path / "cache", "train")
    batch = data.batch(4, 64, torch.Generator().manual_seed(0))
    swapped = dataclasses.replace(batch, singer=1 - batch.singer)
    for prob, same in ((1.0, True), (0.0, False)):
        cfg = load_config("tiny", {**MICRO, "train.singer_dropout_prob": prob})
        torch.manual_seed(0)
        system = build_teacher_system(cfg, data, 0.0, 0.0).eval()
        _reach_the_output(system.acoustic)
        losses = [system(b, torch.Generator().manual_seed(1), torch.Generator().manual_seed(2))[0] for b in
                  (batch, swapped)]
        assert torch.equal(losses[0], losses[1]) is same


def test_guidance_settings_are_bounded_and_old_files_have_none():
    for key, bad in (("edm.singer_guidance", -0.5), ("train.singer_dropout_prob", 1.5),
                     ("train.singer_dropout_prob", -0.1)):
        with pytest.raises(ConfigError, match=key):
            load_config("live", {key: bad})
    stored = dataclasses.asdict(load_config("live", {"edm.singer_guidance": 1.0}))
    del stored["edm"]["singer_guidance"], stored["train"]["singer_dropout_prob"]  # a file from before the keys
    old = from_stored_dict(stored)
    assert old.edm.singer_guidance == 0.0 and old.train.singer_dropout_prob == 0.0


def test_distillation_guides_only_a_teacher_that_learnt_without_singers():
    from core.errors import UserError
    from core.train.student import distillation_grid_record, guide_teacher

    teacher, _ = _tiny_model()
    never = load_config("tiny", MICRO)
    run = never.replace({"edm.singer_guidance": 1.5})
    with pytest.raises(UserError, match="singer_dropout_prob"):
        guide_teacher(teacher, never, run)
    guide_teacher(teacher, never.replace({"train.singer_dropout_prob": 0.1}), run)
    assert teacher.schedule.singer_guidance == 1.5
    # Resuming a distillation with another guidance is refused like another grid; at 0 the record is as before.
    assert distillation_grid_record(run)["singer_guidance"] == 1.5
    assert "singer_guidance" not in distillation_grid_record(never)
