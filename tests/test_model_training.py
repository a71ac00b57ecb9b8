"""End to end on a tiny model: the teacher overfits, its sampler converges, distillation works.

The data: 2 items x 64 frames of low-rank "mels" whose content features carry
the mel's coordinates, two singers. The model is the tiny config shrunk further
and with 8 mel bins: learning to remove noise at mid sigma takes far longer with
80 bins (until it does, more Euler steps make things worse, whatever the loss;
figures in core/model/README.md), and these tests must stay fast.
"""

import math

import pytest
import torch

from core.config import load_config
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.losses import consistency_distillation_loss, edm_loss, ema_update, make_student

ITEMS, FRAMES, MELS, REPEAT = 2, 64, 8, 8


def _config():
    return load_config("tiny").replace(
        {"audio.n_mels": MELS, "model.residual_channels": 32, "model.residual_layers": 4,
         "model.cond_channels": 32, "model.step_embed_dim": 32, "model.step_mlp_dim": 64, "model.n_singers": ITEMS,
         # these toy mels span about +-1 with no condition-free spread to speak of: the paper's 0.5 suits them,
         # and the overfit denoiser works down to the paper's sigma_min, so its grid (and its deterministic
         # ODE, the map distillation teaches) is tested here
         "edm.sigma_data": 0.5, "edm.teacher_floor": 0.0, "edm.teacher_churn": 0.0}
    )


def _data(content_dim: int) -> tuple[torch.Tensor, ConditionInputs]:
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(FRAMES, dtype=torch.float32)
    m = torch.arange(MELS, dtype=torch.float32)
    basis = torch.stack([torch.cos(math.pi * m / MELS), 0.5 * torch.cos(2 * math.pi * m / MELS)])
    coords = torch.stack([torch.stack([0.5 * torch.sin(t / 6 + b), 0.5 * torch.cos(t / 11 + 2 * b)]) for b in range(ITEMS)])
    mel = torch.einsum("bkt,km->bmt", coords, basis) - 0.2
    content = torch.cat([coords.transpose(1, 2), 0.1 * torch.randn(ITEMS, FRAMES, content_dim - 2, generator=gen)], -1)
    inputs = ConditionInputs(content, 200 + 50 * torch.rand(ITEMS, FRAMES, generator=gen),
                             0.1 * torch.rand(ITEMS, FRAMES, generator=gen), torch.arange(ITEMS), torch.zeros(ITEMS))
    return mel, inputs


def _repeat(mel: torch.Tensor, inputs: ConditionInputs) -> tuple[torch.Tensor, ConditionInputs]:
    """The batch several times over, so each step sees several noise levels per item."""
    rep = lambda x: x.repeat(REPEAT, *([1] * (x.ndim - 1)))  # noqa: E731
    return rep(mel), ConditionInputs(*(rep(x) for x in (inputs.content, inputs.f0, inputs.loudness, inputs.singer, inputs.key_shift)))


def _fixed_loss(loss_fn) -> float:
    """A loss averaged over fixed noise draws, so before/after compare like with like."""
    with torch.no_grad():
        return sum(loss_fn(torch.Generator().manual_seed(s)).item() for s in range(4)) / 4


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    cfg = _config()
    mel, inputs = _data(cfg.features.content_dim)
    big_mel, big_inputs = _repeat(mel, inputs)
    teacher = AcousticModel.from_config(cfg)
    before = _fixed_loss(lambda g: edm_loss(teacher, big_mel, big_inputs, generator=g))
    steps = 600
    opt = torch.optim.Adam(teacher.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=1e-4)
    for _ in range(steps):
        loss = edm_loss(teacher, big_mel, big_inputs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    after = _fixed_loss(lambda g: edm_loss(teacher, big_mel, big_inputs, generator=g))
    return teacher.eval(), mel, inputs, before, after


def test_teacher_overfits_small_batch(trained):
    _, _, _, before, after = trained
    assert after < before / 10


def test_euler_reconstruction_error_falls_with_steps(trained):
    teacher, mel, inputs, _, _ = trained
    error = {k: (teacher.sample_teacher(inputs, k, seed=3) - mel).abs().mean().item() for k in (1, 2, 5, 10, 50)}
    assert all(math.isfinite(e) for e in error.values())
    assert error[50] < 0.05  # reconstructs the training mel (values span about +-1)
    assert error[50] < error[1] / 3
    assert error[5] < error[2] < error[1]
    assert max(error[10], error[50]) < error[2]


def test_heun_reconstructs_too(trained):
    teacher, mel, inputs, _, _ = trained
    heun = teacher.sample_teacher(inputs, 10, seed=3, method="heun")
    assert (heun - mel).abs().mean().item() < 0.05


def test_distillation_lowers_consistency_loss_and_student_matches_teacher(trained):
    teacher, mel, inputs, _, _ = trained
    big_mel, big_inputs = _repeat(mel, inputs)
    student, ema = make_student(teacher)
    assert all(not p.requires_grad for p in teacher.parameters())
    n_grid = 25
    cd = lambda g: consistency_distillation_loss(student, ema, teacher, big_mel, big_inputs, n_grid, generator=g)  # noqa: E731
    reference = teacher.sample_teacher(inputs, 50, seed=3)
    distance_before = (student.one_step(inputs, seed=3) - reference).abs().mean().item()
    before = _fixed_loss(cd)
    opt = torch.optim.Adam(student.parameters(), lr=2e-3)
    for _ in range(400):
        loss = cd(None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema_update(ema, student, 0.95)
    after = _fixed_loss(cd)
    student.eval()
    distance_after = (student.one_step(inputs, seed=3) - reference).abs().mean().item()
    assert after < 0.8 * before
    # Mean |one-step student - 50-step teacher| in normalised mel units (the mel spans about +-1);
    # the student starts as the teacher, whose own one-step output is about 0.11 away.
    assert distance_after < 0.06
    assert distance_after < 0.6 * distance_before
    two_step = (student.sample(inputs, steps=2, seed=3) - reference).abs().mean().item()
    assert math.isfinite(two_step) and two_step < 0.1


def test_ema_update_moves_towards_model():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    start = a.weight.detach().clone()
    ema_update(a, b, 0.95)
    assert torch.allclose(a.weight, 0.95 * start + 0.05 * b.weight)


def test_losses_accept_a_wrapped_model():
    cfg = _config()
    mel, inputs = _data(cfg.features.content_dim)
    model = AcousticModel.from_config(cfg)
    wrapped = torch.nn.DataParallel(model)  # on CPU it just calls the module; has .module like DDP
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert edm_loss(wrapped, mel, inputs, generator=g1).item() == pytest.approx(edm_loss(model, mel, inputs, generator=g2).item())
