"""The pitch settings a user gives (method names, transpose limits, help texts), without torch.

`comosvc --help` and the argument parsers read these; core.features.pitch re-exports them.
"""

from __future__ import annotations

import numpy as np

from core.errors import UserError

PITCH_METHODS = ("dio", "harvest", "crepe", "crepe-full", "fcpe")
# The user's transpose control, either way: two octaves move any sung note into (or out of) the
# trackers' 50-1100 Hz; beyond that the model only ever sees out-of-range F0 (noise or near silence).
PITCH_SHIFT_LIMIT = 24.0
# How offline auto-transpose moves the input toward the singer's median F0: by whole semitones, as near
# as can be (the song's key changes), or by whole octaves (the key stays, as live auto-transpose does).
AUTO_TRANSPOSE_MODES = ("semitones", "octaves")
LIVE_AUTO_OCTAVE_HELP = ("move the voice toward the singer's range by whole octaves, following the singing "
                         "(the key stays; the window's Auto-transpose)")
PITCH_SHIFT_HELP = f"pitch shift in semitones, -{PITCH_SHIFT_LIMIT:g} to +{PITCH_SHIFT_LIMIT:g}, fractional allowed"


def check_pitch_shift(semitones: float) -> float:
    """The user's pitch shift as a float; UserError outside +-PITCH_SHIFT_LIMIT (one message everywhere)."""
    try:
        value = float(semitones)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or abs(value) > PITCH_SHIFT_LIMIT:
        shown = f"{value:g}" if np.isfinite(value) else str(semitones)
        raise UserError(f"pitch shift must be between -{PITCH_SHIFT_LIMIT:g} and +{PITCH_SHIFT_LIMIT:g} semitones, "
                        f"got {shown}")
    return value
