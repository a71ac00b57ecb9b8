"""Classifier-free guidance of the singer (Ho & Salimans 2022); not in the CoMoSVC paper.

A teacher trained with `train.singer_dropout_prob` > 0 has seen that share of its crops with no
singer at all: mixing weights of zero, so the singer adds nothing to the summed condition. At one
noise level its answers with and without the singer then differ by what the singer alone brings,
and guidance scales that difference:

    D_g(x, sigma) = D(x, sigma | singer) + g (D(x, sigma | singer) - D(x, sigma | no singer))

g = 0 is the plain denoiser. With `edm.singer_guidance` g > 0 the teacher's samplers use D_g, and
so does the teacher's ODE step in consistency distillation: the student learns the guided ODE and
makes its mel in one evaluation, at no extra cost per block (latent consistency models distil
text guidance the same way). Guidance against the mean of the singers' rows, which no teacher was
trained on, moved outputs apart but not toward the singer (BENCHMARKS.md, session 17).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch
import torch.nn.functional as F

from core.errors import UserError
from core.model.conditioning import ConditionInputs


def check_guidable(scale: float, singer_dropout_prob: float) -> None:
    """Guidance (scale > 0) needs a teacher trained with some crops without a singer (UserError otherwise):
    without them its answer with no singer is untrained, and D_g extrapolates from noise."""
    if scale > 0 and singer_dropout_prob <= 0:
        raise UserError(f"singer guidance {scale:g} needs a teacher trained with train.singer_dropout_prob > 0; "
                        "this teacher never learnt to denoise without a singer")


def drop_singers(singer: torch.Tensor, n_singers: int, prob: float, generator: torch.Generator) -> torch.Tensor:
    """(B,) singer ids -> (B, n_singers) one-hot mixing weights, each row zeroed with probability `prob`."""
    weights = F.one_hot(singer.long(), n_singers).float()
    kept = torch.rand(len(singer), generator=generator, device=generator.device) >= prob
    return weights * kept.to(weights.device, weights.dtype)[:, None]


def without_singer(inputs: ConditionInputs, n_singers: int) -> ConditionInputs:
    """The same inputs with no singer: all-zero mixing weights."""
    return replace(inputs, singer=torch.zeros(inputs.batch_size, n_singers, device=inputs.content.device))


class SingerGuided:
    """A sampler's denoiser(x, sigma, cond) guided toward the singer; `unconditioned` is the condition without one."""

    def __init__(self, denoiser: Callable, unconditioned: torch.Tensor, scale: float) -> None:
        self.denoiser, self.unconditioned, self.scale = denoiser, unconditioned, float(scale)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        with_singer = self.denoiser(x, sigma, cond)
        return with_singer + self.scale * (with_singer - self.denoiser(x, sigma, self.unconditioned))
