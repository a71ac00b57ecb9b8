"""The adversarial term of student distillation: the one-step mel must pass for a sung one.

Consistency distillation teaches the student the teacher's deterministic ODE.
Teacher-50 sounds better than that ODE because of its churn (fresh noise at
every step), which a map of the ODE cannot carry (BENCHMARKS.md, "Longer
distillation grids"). Adversarial diffusion distillation (Sauer et al. 2023)
adds what the ODE lacks from the data itself: a discriminator
(core/model/mel_discriminator.py) learns to tell the cache's real mels from the
student's one-step outputs for the same conditioning (content, F0, loudness,
singer), and the student is also trained to fool it. The distillation loss
beside it keeps the output on the teacher's path.

Least-squares GAN losses (as HiFi-GAN's), averaged over the valid frames:

    discriminator: (D(real) - 1)^2 + D(fake)^2
    student:       (D(fake) - 1)^2

For the first train.adversarial_warmup_steps the discriminator learns alone,
so that the student is not pushed by a judge that cannot yet judge.
"""

from __future__ import annotations

import torch

from core.model.conditioning import ConditionInputs
from core.model.losses import masked_mean
from core.model.mel_discriminator import MelDiscriminator

# HiFi-GAN's discriminator optimiser: AdamW, betas (0.8, 0.99).
DISCRIMINATOR_LR = 2e-4
DISCRIMINATOR_BETAS = (0.8, 0.99)


def discriminator_loss(disc: MelDiscriminator, real: torch.Tensor, fake: torch.Tensor, inputs: ConditionInputs,
                       mask: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """(loss, mean score of the real mels, of the fakes); `fake` should come detached."""
    real_score = disc(real, inputs.f0, inputs.singer)
    fake_score = disc(fake, inputs.f0, inputs.singer)
    loss = masked_mean((real_score - 1) ** 2, mask) + masked_mean(fake_score ** 2, mask)
    return loss, float(masked_mean(real_score, mask).detach()), float(masked_mean(fake_score, mask).detach())


def generator_loss(disc: MelDiscriminator, fake: torch.Tensor, inputs: ConditionInputs,
                   mask: torch.Tensor) -> torch.Tensor:
    """What the student minimises: the discriminator should score its mel as real (1)."""
    return masked_mean((disc(fake, inputs.f0, inputs.singer) - 1) ** 2, mask)


class DiscriminatorCheck:
    """The discriminator's mean score on fixed validation clips: their real mels, and the student's one-step mels.

    Fixed clips and fixed noise, so the two figures move only with the weights: a
    real score near 1 and a one-step score near 0 mean the discriminator tells them
    apart; the one-step score rising toward the real one means the student passes.
    """

    def __init__(self, data, cfg, content_fn, device: torch.device, clips: int = 4, seed: int = 0) -> None:
        from core.audio.mel import normalize

        self.seed = seed
        self.items: list[tuple[torch.Tensor, ConditionInputs, torch.Tensor]] = []
        with torch.no_grad():
            for index in range(min(clips, len(data.clips))):
                batch = data.whole(index).to(device)
                inputs = ConditionInputs(content_fn(batch), batch.f0, batch.loudness, batch.singer, batch.key_shift)
                self.items.append((normalize(batch.mel, cfg.audio), inputs, batch.mask))

    def __call__(self, disc: MelDiscriminator, student) -> dict[str, float]:
        if not self.items:
            return {}
        was_training = student.training
        student.eval()
        real, one_step = [], []
        with torch.no_grad():
            for mel, inputs, mask in self.items:
                real.append(float(masked_mean(disc(mel, inputs.f0, inputs.singer), mask)))
                made = student.sample(inputs, 1, seed=self.seed)
                one_step.append(float(masked_mean(disc(made, inputs.f0, inputs.singer), mask)))
        student.train(was_training)
        return {"val_score_real": sum(real) / len(real), "val_score_one_step": sum(one_step) / len(one_step)}
