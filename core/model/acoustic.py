"""The acoustic model: condition encoder + EDM-preconditioned WaveNet, and how to sample it.

Teacher and student are the same class (the student starts as a copy of the
teacher); what differs is the sampler: `sample_teacher` runs the ODE (with
optional churn) on the teacher grid, `sample` runs consistency sampling (1 step by default).

`one_step(inputs, frame_offset, seed)` is THE call that offline conversion and
the live engine share. `frame_offset` is the absolute index of the first frame
of `inputs`, so the noise of each frame is the same whichever window it is
generated in. The output of a frame depends on its inputs +-`context_frames`
away (per denoiser evaluation), so a live window [left | new | right] with
left, right >= context_frames * steps reproduces the full-sequence frames of
`new` (see `window`).

All mels here are NORMALISED to [-1, 1]; core.audio.mel.denormalize gives log10 mels.
"""

from __future__ import annotations

import torch
from torch import nn

from core.config import Config
from core.model.conditioning import ConditionInputs, Conditioner
from core.model.edm import EDMDenoiser, NoiseSchedule
from core.model.guidance import SingerGuided, without_singer
from core.model.noise import anchored_noise
from core.model.samplers import consistency_sampler, consistency_sigmas, euler_sampler, heun_sampler, teacher_sigmas
from core.model.wavenet import WaveNet


class AcousticModel(nn.Module):
    def __init__(self, conditioner: Conditioner, denoiser: EDMDenoiser, n_mels: int) -> None:
        super().__init__()
        self.conditioner = conditioner
        self.denoiser = denoiser
        self.n_mels = n_mels

    @classmethod
    def from_config(cls, cfg: Config, n_singers: int | None = None) -> "AcousticModel":
        """A freshly initialised model of cfg's size (n_singers overrides cfg.model.n_singers)."""
        singers = cfg.model.n_singers if n_singers is None else n_singers
        if singers < 1:
            raise ValueError(f"a model needs at least one singer, got {singers}")
        conditioner = Conditioner(cfg.features.content_dim, singers, cfg.model.cond_channels)
        network = WaveNet.from_config(cfg.model, cfg.audio.n_mels)
        return cls(conditioner, EDMDenoiser(network, NoiseSchedule.from_config(cfg.edm)), cfg.audio.n_mels)

    @property
    def schedule(self) -> NoiseSchedule:
        return self.denoiser.schedule

    @property
    def network(self) -> WaveNet:
        return self.denoiser.network

    @property
    def context_frames(self) -> int:
        """Frames of context each side one denoiser evaluation depends on (20 for the paper)."""
        return self.network.context_frames

    @property
    def receptive_field(self) -> int:
        """Frames one output frame depends on per evaluation (41 for the paper)."""
        return self.network.receptive_field

    def context_for(self, steps: int = 1) -> int:
        """Context each side that makes `steps`-step consistency sampling window-exact."""
        return self.context_frames * steps

    def condition(self, inputs: ConditionInputs) -> torch.Tensor:
        return self.conditioner(inputs)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, inputs: ConditionInputs) -> torch.Tensor:
        """D(x, sigma) for raw condition inputs (training); samplers reuse one encoded condition."""
        return self.denoiser(x, sigma, self.condition(inputs))

    def guided_denoiser(self, inputs: ConditionInputs, scale: float):
        """The denoiser(x, sigma, cond) a sampler calls for `inputs`: guided toward the singer when scale > 0."""
        if scale <= 0:
            return self.denoiser
        return SingerGuided(self.denoiser, self.condition(without_singer(inputs, self.conditioner.n_singers)), scale)

    def guided(self, x: torch.Tensor, sigma: torch.Tensor | float, inputs: ConditionInputs) -> torch.Tensor:
        """D(x, sigma) with the schedule's singer guidance (core/model/guidance.py): distillation's teacher step."""
        return self.guided_denoiser(inputs, self.schedule.singer_guidance)(x, sigma, self.condition(inputs))

    def _noise(self, inputs: ConditionInputs, frame_offset: int, seed: int, draw: int, ref: torch.Tensor) -> torch.Tensor:
        return anchored_noise(
            self.n_mels, frame_offset, inputs.frames, seed, draw, inputs.batch_size, ref.dtype, ref.device
        )

    @torch.no_grad()
    def sample(self, inputs: ConditionInputs, steps: int = 1, frame_offset: int = 0, seed: int = 0) -> torch.Tensor:
        """Consistency sampling: (B, n_mels, T) normalised mel in `steps` evaluations."""
        cond = self.condition(inputs)
        sigmas = consistency_sigmas(steps, self.schedule)
        latent = self._noise(inputs, frame_offset, seed, 0, cond) * self.schedule.student_latent_scale
        renoise = lambda k: self._noise(inputs, frame_offset, seed, k, cond)  # noqa: E731
        return consistency_sampler(self.denoiser, latent, sigmas, cond, renoise, self.schedule.sigma_min)

    def one_step(self, inputs: ConditionInputs, frame_offset: int = 0, seed: int = 0) -> torch.Tensor:
        """D(s sigma_max z, sigma_max) with frame-anchored z and s the schedule's student_latent_scale
        (1 in the paper): the live and offline path."""
        return self.sample(inputs, 1, frame_offset, seed)

    @torch.no_grad()
    def window(
        self, inputs: ConditionInputs, frame_offset: int, left: int, right: int, seed: int = 0, steps: int = 1
    ) -> torch.Tensor:
        """Sample a window [left | new | right] starting at absolute frame `frame_offset`; return `new` only."""
        if left < 0 or right < 0 or left + right >= inputs.frames:
            raise ValueError(f"window of {inputs.frames} frames has no new frames with left={left}, right={right}")
        mel = self.sample(inputs, steps, frame_offset, seed)
        return mel[:, :, left : inputs.frames - right]

    @torch.no_grad()
    def sample_teacher(
        self, inputs: ConditionInputs, steps: int = 50, frame_offset: int = 0, seed: int = 0, method: str = "euler",
        churn: float | None = None, guidance: float | None = None,
    ) -> torch.Tensor:
        """Sampling on the teacher grid (Euler as in the paper, or Heun), with the schedule's churn and singer
        guidance unless given.

        churn=0 is the deterministic ODE, the map consistency distillation teaches the student.
        Churn noise is frame-anchored like the latent (draw k for step k), so windows agree.
        """
        samplers = {"euler": euler_sampler, "heun": heun_sampler}
        if method not in samplers:
            raise ValueError(f"unknown teacher sampler '{method}'; choose from {sorted(samplers)}")
        cond = self.condition(inputs)
        sigmas = teacher_sigmas(steps, self.schedule)
        x = self._noise(inputs, frame_offset, seed, 0, cond) * float(sigmas[0])
        fresh = lambda k: self._noise(inputs, frame_offset, seed, k, cond)  # noqa: E731
        amount = self.schedule.teacher_churn if churn is None else churn
        denoiser = self.guided_denoiser(inputs, self.schedule.singer_guidance if guidance is None else guidance)
        return samplers[method](denoiser, x, sigmas, cond, amount, fresh)
