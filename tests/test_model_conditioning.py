"""Conditioning: summed projections, per-frame locality, singer mixing, input validation."""

import math

import pytest
import torch

from core.model.conditioning import ConditionInputs, Conditioner


def _inputs(frames=20, dim=6, singer=1, shift=2.0):
    return ConditionInputs.single(torch.randn(frames, dim), 100 + 300 * torch.rand(frames),
                                  torch.rand(frames), singer, shift)


def test_condition_is_the_sum_of_the_five_projections():
    cond = Conditioner(content_dim=6, n_singers=3, channels=8)
    inputs = _inputs()
    out = cond(inputs)
    assert out.shape == (1, 8, 20)
    f0 = torch.log(1 + inputs.f0[0] / 700)[:, None]
    expected = (cond.content(inputs.content[0]) + cond.f0(f0) + cond.loudness(inputs.loudness[0][:, None])
                + cond.singer.weight[1] + cond.key_shift(torch.full((20, 1), 2.0 / 5)))
    assert torch.allclose(out[0].T, expected, atol=1e-6)


def test_singer_weights_blend_embeddings_and_one_hot_equals_id():
    cond = Conditioner(content_dim=6, n_singers=3, channels=8)
    inputs = _inputs(singer=2)
    one_hot = ConditionInputs(inputs.content, inputs.f0, inputs.loudness, torch.tensor([[0.0, 0.0, 1.0]]),
                              inputs.key_shift)
    assert torch.allclose(cond(inputs), cond(one_hot), atol=1e-6)


def test_each_frame_depends_only_on_its_own_inputs():
    cond = Conditioner(content_dim=6, n_singers=3, channels=8)
    inputs = _inputs()
    changed = ConditionInputs(inputs.content.clone(), inputs.f0.clone(), inputs.loudness, inputs.singer, inputs.key_shift)
    changed.f0[0, 5] += 50.0
    diff = (cond(inputs) - cond(changed)).abs().sum(dim=1)[0]
    assert diff[5] > 0 and torch.count_nonzero(diff) == 1


def test_unvoiced_frames_embed_f0_zero():
    cond = Conditioner(content_dim=6, n_singers=1, channels=4)
    inputs = _inputs(singer=0)
    inputs.f0[0, :] = 0.0
    assert torch.isfinite(cond(inputs)).all()
    assert math.isclose(torch.log1p(torch.tensor(0.0)).item(), 0.0)


@pytest.mark.parametrize("bad", ["content", "singer"])
def test_bad_shapes_and_ids_are_clear_errors(bad):
    cond = Conditioner(content_dim=6, n_singers=2, channels=4)
    inputs = _inputs(singer=1) if bad == "content" else _inputs(singer=5)
    if bad == "content":
        inputs = ConditionInputs(inputs.content[:, :, :5], inputs.f0, inputs.loudness, inputs.singer, inputs.key_shift)
    with pytest.raises(ValueError, match=bad):
        cond(inputs)
