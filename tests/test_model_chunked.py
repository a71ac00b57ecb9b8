"""Windowed one-step inference equals full-sequence inference: what the live engine relies on."""

import pytest
import torch

from core.config import load_config
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs

FRAMES = 120


def _model() -> AcousticModel:
    cfg = load_config("tiny").replace(
        {"model.residual_channels": 16, "model.residual_layers": 3, "model.cond_channels": 16,
         "model.step_embed_dim": 16, "model.step_mlp_dim": 32, "model.n_singers": 3}
    )
    model = AcousticModel.from_config(cfg).eval()
    # The zero-initialised output would make D(x) = c_skip x, which is per frame; use a network that mixes frames.
    torch.nn.init.normal_(model.network.output_projection.weight, std=0.3)
    return model


def _inputs(model: AcousticModel) -> ConditionInputs:
    return ConditionInputs.single(
        content=torch.randn(FRAMES, model.conditioner.content_dim),
        f0=200 + 100 * torch.rand(FRAMES),
        loudness=torch.rand(FRAMES) * 0.2,
        singer=2,
        key_shift=1.5,
    )


def _windowed(model, inputs, start_frame, block, context, steps=1):
    pieces = []
    for start in range(0, FRAMES, block):
        stop = min(start + block, FRAMES)
        lo, hi = max(0, start - context), min(FRAMES, stop + context)
        window = inputs.frame_slice(lo, hi)
        pieces.append(model.window(window, start_frame + lo, start - lo, hi - stop, seed=11, steps=steps))
    return torch.cat(pieces, dim=-1)


@pytest.mark.parametrize("steps", [1, 2])
def test_windows_with_enough_context_equal_full_sequence(steps):
    model = _model()
    inputs = _inputs(model)
    full = model.sample(inputs, steps=steps, frame_offset=1000, seed=11)
    chunked = _windowed(model, inputs, 1000, block=16, context=model.context_for(steps), steps=steps)
    assert chunked.shape == full.shape
    assert torch.allclose(chunked, full, atol=1e-5)


def test_the_latent_scale_starts_the_student_from_that_much_noise_and_windows_still_agree():
    from dataclasses import replace

    from core.model.noise import anchored_noise

    model = _model()
    inputs = _inputs(model)
    model.denoiser.schedule = replace(model.schedule, student_latent_scale=1.0)  # the paper's
    full_scale = model.sample(inputs, steps=1, frame_offset=1000, seed=11)
    model.denoiser.schedule = replace(model.schedule, student_latent_scale=0.5)
    sigma_max = model.schedule.sigma_max
    z = anchored_noise(model.n_mels, 1000, FRAMES, 11, 0, 1, full_scale.dtype, full_scale.device)
    by_hand = model.denoiser(0.5 * sigma_max * z, torch.tensor([sigma_max]), model.condition(inputs))
    half = model.sample(inputs, steps=1, frame_offset=1000, seed=11)
    assert torch.allclose(half, by_hand, atol=1e-6)
    assert (half - full_scale).abs().max() > 1e-3
    chunked = _windowed(model, inputs, 1000, block=16, context=model.context_for(1))
    assert torch.allclose(chunked, half, atol=1e-5)  # the live engine's windows: the same scaled latent


def test_churned_teacher_windows_equal_full_sequence():
    """Churn draws fresh noise at every step; it is frame-anchored, so a window still repeats the full run."""
    model = _model()
    assert model.schedule.teacher_churn > 0  # the tiny config churns, as live does
    inputs = _inputs(model)
    steps, context = 3, model.context_for(3)
    full = model.sample_teacher(inputs, steps, frame_offset=500, seed=11)
    assert not torch.allclose(full, model.sample_teacher(inputs, steps, frame_offset=500, seed=11, churn=0.0))
    lo, hi = 40 - context, 56 + context
    window = model.sample_teacher(inputs.frame_slice(lo, hi), steps, frame_offset=500 + lo, seed=11)
    assert torch.allclose(window[..., 40 - lo:56 - lo], full[..., 40:56], atol=1e-5)


def test_too_little_context_changes_the_output():
    model = _model()
    inputs = _inputs(model)
    full = model.one_step(inputs, frame_offset=0, seed=11)
    chunked = _windowed(model, inputs, 0, block=16, context=model.context_frames - 1)
    assert not torch.allclose(chunked, full, atol=1e-4)


def test_receptive_field_of_paper_network():
    model = AcousticModel.from_config(load_config("paper").replace({"model.residual_channels": 8,
                                                                    "model.cond_channels": 8,
                                                                    "model.step_embed_dim": 8,
                                                                    "model.step_mlp_dim": 8}))
    assert model.receptive_field == 41 and model.context_frames == 20


def test_window_without_new_frames_is_rejected():
    model = _model()
    with pytest.raises(ValueError):
        model.window(_inputs(model).frame_slice(0, 10), 0, 5, 5)
