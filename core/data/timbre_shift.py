"""A recording re-sung at another pitch with its own spectral envelope (WORLD).

The paper's key-shift copy (preprocess.py) moves the whole spectrum, formants included, and tells
the model so through the key-shift condition. It never shows the model a singer's own timbre at a
pitch outside that singer's range, which is what a conversion without auto-transpose asks for (a
bass singing a soprano's line). This copy does: F0 moves by `semitones`, the envelope and the
aperiodicity stay, and its key-shift condition is 0. WORLD resynthesis is lossless in character
only for material WORLD made (the synthetic corpus); on real recordings it adds WORLD's own sound,
which is why the copy is off unless `train.range_shift_max` is set.
"""

from __future__ import annotations

import numpy as np


def resing_with_envelope(audio: np.ndarray, rate: int, hop: int, f0: np.ndarray, voiced: np.ndarray,
                         semitones: float) -> np.ndarray:
    """`audio` with its voiced F0 moved by `semitones`; same length and peak, envelope kept."""
    import warnings

    with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns on newer setuptools
        warnings.simplefilter("ignore")
        import pyworld

    x = np.ascontiguousarray(audio, dtype=np.float64)
    frames = min(len(f0), len(x) // hop + 1)
    period_ms = 1000.0 * hop / rate
    times = np.arange(frames) * (hop / rate)
    world_f0 = np.where(np.asarray(voiced[:frames], bool), np.asarray(f0[:frames], np.float64), 0.0)
    envelope = pyworld.cheaptrick(x, world_f0, times, rate)
    aperiodicity = pyworld.d4c(x, world_f0, times, rate)
    sung = pyworld.synthesize(world_f0 * 2.0 ** (semitones / 12.0), envelope, aperiodicity, rate, period_ms)
    sung = np.pad(sung, (0, max(0, len(x) - len(sung))))[: len(x)]
    peak_in, peak_out = float(np.max(np.abs(x))), float(np.max(np.abs(sung)))
    return (sung * (peak_in / peak_out if peak_out > 0 else 0.0)).astype(np.float32)


def fits_f0_range(voiced_f0: np.ndarray, semitones: float, f0_floor: float, f0_ceil: float) -> bool:
    """Whether the voiced F0, moved by `semitones`, stays within [f0_floor, f0_ceil] (and there is some)."""
    sung = np.asarray(voiced_f0) * 2.0 ** (semitones / 12.0)
    return sung.size > 0 and sung.max() <= f0_ceil and sung.min() >= f0_floor


def range_shifts(rng: np.random.Generator, key_shift_max: float, range_shift_max: float) -> tuple[float, float]:
    """One shift up and one down, each beyond the key-shift copies' reach: |k| in U(key_max, range_max)."""
    low = min(key_shift_max, range_shift_max)
    return float(rng.uniform(low, range_shift_max)), -float(rng.uniform(low, range_shift_max))
