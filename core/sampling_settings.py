"""The sampler settings a user gives (the student's latent scale, the noise's seed, help text), without torch.

The argument parsers read these at start-up; core.convert.voice_model applies them to a model.
"""

from __future__ import annotations

import math

from core.errors import UserError

LATENT_SCALE_HELP = ("the student's starting noise, x sigma_max: lower is a lower sampling temperature, smoother "
                     "and a little less like the singer; 1 is the paper (default: the model's own "
                     "edm.student_latent_scale)")


def check_non_negative(value: float, what: str) -> None:
    """A sampler setting that is a finite number >= 0 (UserError naming `what` otherwise)."""
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{what} must be a number >= 0, got {value}")


def check_latent_scale(scale: float) -> None:
    """A usable scale of the student's starting noise."""
    check_non_negative(scale, "the latent scale")


def check_singer_guidance(scale: float) -> None:
    """A usable singer guidance for the teacher's sampler."""
    check_non_negative(scale, "the singer guidance")


def check_teacher_churn(churn: float) -> None:
    """A usable EDM churn for the teacher's sampler (core/model/samplers.py)."""
    check_non_negative(churn, "churn")


SEED_LIMIT = 2**32  # seeds 0 .. 2^32 - 1: any of them keys core/model/noise.py's counter-based generator


def check_seed(seed: int) -> int:
    """A usable seed of the samplers' noise (UserError otherwise)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise UserError(f"the seed must be a whole number from 0 to {SEED_LIMIT - 1}, got {seed!r}")
    return seed


def no_student_error(description: str) -> UserError:
    """What a latent scale for a converter without a one-step student (the WORLD stand-in) is refused with."""
    return UserError(f"the latent scale sets a model's student; {description} has none")


def checked_live_latent_scale(scale: float | None, own: float | None, description: str) -> float | None:
    """A live control's latent scale for a converter whose own scale is `own` (None: it has no student);
    None (the model's own) always passes. UserError for a bad value or a converter without a student."""
    if scale is None:
        return None
    check_latent_scale(scale)
    if own is None:
        raise no_student_error(description)
    return float(scale)
