"""Keeping files meant for listening below full scale.

Conversion and resynthesis can overshoot (a loud input gave peaks of 1.6 and
2.35): written as float WAV that plays as hard clipping on the user's monitors.
Files are therefore scaled down as a whole (no distortion, no pumping) so their
peak sits at PEAK_CEILING_DB, and the caller says by how much. Files that do not
pass full scale are left untouched.
"""

from __future__ import annotations

import numpy as np

SILENCE_PEAK = 1e-4  # -80 dBFS: a peak (or a gain) below this is silence, for files and the live path alike
PEAK_CEILING_DB = -1.0  # where an overshooting file's peak is put, in dBFS
PEAK_HELP = "output that would pass full scale is scaled down to peak at -1 dBFS (the report says by how much)"


def fit_below_full_scale(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """(audio, gain in dB): unchanged with 0.0 if its peak is <= 1.0, else scaled to peak at PEAK_CEILING_DB."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if not np.isfinite(peak) or peak <= 1.0:
        return audio, 0.0
    gain = 10.0 ** (PEAK_CEILING_DB / 20.0) / peak
    return (audio * np.float32(gain)).astype(np.float32, copy=False), float(20.0 * np.log10(gain))


def peak_note(gain_db: float) -> str:
    """The one-line notice for a file that `fit_below_full_scale` scaled."""
    peak_db = PEAK_CEILING_DB - gain_db
    return (f"the output peaked at {peak_db:+.1f} dBFS; scaled down by {-gain_db:.1f} dB to {PEAK_CEILING_DB:g} dBFS "
            "so it does not clip")
