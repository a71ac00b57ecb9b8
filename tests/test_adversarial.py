"""The adversarial term of student distillation (core/train/adversarial.py, core/model/mel_discriminator.py)."""

import pytest
import torch

from core.errors import UserError
from core.model.conditioning import ConditionInputs
from core.model.mel_discriminator import MelDiscriminator, pitch_channels
from core.model.model_file import load_model
from core.train.adversarial import discriminator_loss, generator_loss
from core.train.student import train_student
from tests.student_fixtures import cache, teacher  # noqa: F401 (fixtures)
from tests.student_fixtures import run_options

N_MELS, FRAMES = 16, 40


def _inputs(batch: int, f0: float = 220.0) -> ConditionInputs:
    return ConditionInputs(torch.zeros(batch, FRAMES, 4), torch.full((batch, FRAMES), f0), torch.zeros(batch, FRAMES),
                           torch.arange(batch) % 2, torch.zeros(batch))


def _harmonic_mels(batch: int, seed: int) -> torch.Tensor:
    """Mels with sharp peaks every 4 bins (stand-ins for harmonics), a little noise."""
    peaks = (torch.arange(N_MELS) % 4 == 0).float() * 2.0 - 1.0
    noise = torch.randn(batch, N_MELS, FRAMES, generator=torch.Generator().manual_seed(seed))
    return peaks[None, :, None] + 0.1 * noise


def test_pitch_channels_mark_voiced_frames_in_octaves_from_a4():
    channels = pitch_channels(torch.tensor([[440.0, 880.0, 0.0, 220.0]]), torch.float32)
    assert torch.allclose(channels[0, 0], torch.tensor([0.0, 1.0, 0.0, -1.0]))
    assert torch.equal(channels[0, 1], torch.tensor([1.0, 1.0, 0.0, 1.0]))


def test_discriminator_scores_padded_frames_out_of_the_loss():
    torch.manual_seed(0)
    disc = MelDiscriminator(N_MELS, 2)
    real, fake, inputs = _harmonic_mels(2, 0), _harmonic_mels(2, 1), _inputs(2)
    mask = torch.ones(2, FRAMES)
    mask[:, 30:] = 0
    loss, _, _ = discriminator_loss(disc, real, fake, inputs, mask)
    # Changing the fake's padded frames changes scores only through the convolutions' reach into the last
    # valid frames; far from the edge the loss is the one over the valid frames alone.
    scores_real, scores_fake = disc(real, inputs.f0, inputs.singer), disc(fake, inputs.f0, inputs.singer)
    expected = ((scores_real[:, :30] - 1) ** 2).mean() + (scores_fake[:, :30] ** 2).mean()
    assert torch.allclose(loss, expected, atol=1e-6)


def test_discriminator_learns_sharp_from_smoothed_mels_and_the_generator_term_pulls_toward_sharp():
    torch.manual_seed(0)
    disc = MelDiscriminator(N_MELS, 2)
    optimiser = torch.optim.AdamW(disc.parameters(), lr=2e-3)
    inputs, mask = _inputs(4), torch.ones(4, FRAMES)
    smoothing = torch.nn.functional.avg_pool1d
    for step in range(60):
        real = _harmonic_mels(4, step)
        blurred = smoothing(real.transpose(1, 2).reshape(-1, 1, N_MELS), 3, 1, 1).reshape(4, FRAMES, N_MELS)
        loss, real_score, fake_score = discriminator_loss(disc, real, blurred.transpose(1, 2), inputs, mask)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert real_score > 0.7 and fake_score < 0.3

    # A "generator" that outputs a fixed, smoothed mel: minimising the generator term sharpens it.
    disc.requires_grad_(False)
    real = _harmonic_mels(4, 100)
    start = smoothing(real.transpose(1, 2).reshape(-1, 1, N_MELS), 3, 1, 1).reshape(4, FRAMES, N_MELS).transpose(1, 2)
    fake = start.clone().requires_grad_(True)
    moving = torch.optim.Adam([fake], lr=1e-2)
    losses = []
    for _ in range(40):
        g_loss = generator_loss(disc, fake, inputs, mask)
        losses.append(float(g_loss.detach()))
        moving.zero_grad()
        g_loss.backward()
        moving.step()
    assert losses[-1] < 0.5 * losses[0]
    contrast = lambda mel: float((mel[:, 1:] - mel[:, :-1]).abs().mean())  # noqa: E731
    assert contrast(fake.detach()) > contrast(start)


ADVERSARIAL = {"train.student_adversarial_weight": 0.5, "train.adversarial_warmup_steps": 2}


def test_student_with_the_adversarial_term_resumes_exactly_and_logs_its_figures(cache, teacher, tmp_path):
    a = train_student(cache, teacher, tmp_path / "a.safetensors", run_options(4), overrides=ADVERSARIAL,
                      log=lambda m: None)
    for name in ("val_score_real", "val_score_one_step"):
        assert name in a["validation"] and name in a["validation_start"]
    assert "val_score_real" not in train_student(cache, teacher, tmp_path / "plain.safetensors", run_options(1),
                                                 log=lambda m: None)["validation"]
    train_student(cache, teacher, tmp_path / "b.safetensors", run_options(2), overrides=ADVERSARIAL, log=lambda m: None)
    train_student(cache, teacher, tmp_path / "b.safetensors", run_options(4, resume=True), overrides=ADVERSARIAL,
                  log=lambda m: None)
    x, y = load_model(tmp_path / "a.safetensors"), load_model(tmp_path / "b.safetensors")
    for (key, p), q in zip(x.student.state_dict().items(), y.student.state_dict().values()):
        assert torch.equal(p, q), key
    # The same run with the term weighted next to nothing: the term itself moves the student.
    faint = {**ADVERSARIAL, "train.student_adversarial_weight": 1e-12}
    train_student(cache, teacher, tmp_path / "c.safetensors", run_options(4), overrides=faint, log=lambda m: None)
    z = load_model(tmp_path / "c.safetensors")
    assert any(not torch.equal(p, q) for p, q in zip(x.student.state_dict().values(), z.student.state_dict().values()))
    # With a warm-up as long as the run the term never reaches the student: its weight changes nothing.
    for name, weight in (("w1", 0.5), ("w2", 1e-12)):
        train_student(cache, teacher, tmp_path / f"{name}.safetensors", run_options(4),
                      overrides={**ADVERSARIAL, "train.student_adversarial_weight": weight,
                                 "train.adversarial_warmup_steps": 5}, log=lambda m: None)
    w1, w2 = load_model(tmp_path / "w1.safetensors"), load_model(tmp_path / "w2.safetensors")
    assert all(torch.equal(p, q) for p, q in zip(w1.student.state_dict().values(), w2.student.state_dict().values()))

    # A train-state made with another adversarial weight (on or off) is refused before it is loaded.
    state_file = tmp_path / "b.train-state.safetensors"
    before = state_file.read_bytes()
    for other in ({}, faint):
        with pytest.raises(UserError, match="student_adversarial_weight=0.5"):
            train_student(cache, teacher, tmp_path / "b.safetensors", run_options(6, resume=True), overrides=other,
                          log=lambda m: None)
    assert state_file.read_bytes() == before
