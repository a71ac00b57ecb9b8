"""F0 measured on the converted output, for the live view's "output" pitch curve.

The worker does not spend its block budget on this: the GUI measures the
output waveform of the snapshot (the last ~2 s) a few times a second. DIO at
speed 4 (its internal decimation) takes ~3 ms for 2 s of audio; StoneMask's
refinement is left out, a display needs no better than a few cents.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.audio.peak import SILENCE_PEAK

F0_FLOOR_HZ, F0_CEIL_HZ = 50.0, 1100.0
DIO_SPEED = 4


def output_f0(wave: np.ndarray, sample_rate: int, frames: int) -> np.ndarray:
    """F0 (Hz, 0 unvoiced) of the last `frames` frames of `wave`, one per len(wave)/frames samples."""
    if frames <= 0:
        return np.zeros(0, np.float32)
    if len(wave) < sample_rate // 20 or float(np.max(np.abs(wave))) < SILENCE_PEAK:  # silence: no F0
        return np.zeros(frames, np.float32)
    with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns on newer setuptools
        warnings.simplefilter("ignore")
        import pyworld

    hop = len(wave) / frames
    x = np.ascontiguousarray(wave, dtype=np.float64)
    f0, _ = pyworld.dio(x, sample_rate, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ,
                        frame_period=1000.0 * hop / sample_rate, speed=DIO_SPEED)
    f0 = f0[-frames:] if len(f0) >= frames else np.concatenate([np.zeros(frames - len(f0)), f0])
    return f0.astype(np.float32)
