"""Pitch (F0) extraction by name, and the F0 post-processing the model needs.

Methods: "dio" (pyworld DIO + StoneMask, the paper's default), "harvest",
"crepe" (torchcrepe tiny), "crepe-full" (torchcrepe full), "fcpe" (torchfcpe).
Every method returns a `PitchTrack` with exactly one value per mel frame,
frame t estimated at the centre of mel frame t (sample t*hop + hop/2).
"""

from __future__ import annotations

import numpy as np
import torch

from core.config import AudioConfig, FeatureConfig
from core.errors import UserError
from core.features.pitch_base import PitchExtractor, PitchTrack
# The user-facing pitch settings live in a torch-free module, so that the CLI's help is quick.
from core.features.pitch_settings import (  # noqa: F401  (re-exported)
    AUTO_TRANSPOSE_MODES, LIVE_AUTO_OCTAVE_HELP, PITCH_METHODS, PITCH_SHIFT_HELP, PITCH_SHIFT_LIMIT,
    check_pitch_shift,
)

__all__ = [
    "PITCH_METHODS", "PITCH_SHIFT_HELP", "PITCH_SHIFT_LIMIT", "PitchExtractor", "PitchTrack", "UnvoicedHold",
    "check_pitch_shift", "get_pitch_extractor", "interpolate_unvoiced", "pitch_extractor_from_config", "shift_f0",
]


def get_pitch_extractor(name: str, device: str | torch.device = "cpu", **settings) -> PitchExtractor:
    """A pitch extractor by method name; neural models load once, here.

    `settings` (sample_rate, hop_length, f0_floor, f0_ceil, silence_db) default to
    PitchExtractor's; pitch_extractor_from_config takes them from a config.
    """
    kwargs = dict(settings, device=_usable_device(device))
    if name in ("dio", "harvest"):
        from core.features.pitch_world import WorldPitch

        return WorldPitch(name, **kwargs)
    if name in ("crepe", "crepe-full"):
        from core.features.pitch_neural import CrepePitch

        return CrepePitch("tiny" if name == "crepe" else "full", **kwargs)
    if name == "fcpe":
        from core.features.pitch_neural import FcpePitch

        return FcpePitch(**kwargs)
    raise UserError(f"unknown pitch method '{name}'; choose one of: {', '.join(PITCH_METHODS)}")


def _usable_device(device: str | torch.device) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"unknown device '{device}': {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{device}' asked for, but no CUDA GPU is available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device '{device}' asked for, but MPS is not available here")
    return device


def pitch_extractor_from_config(
    features: FeatureConfig, audio: AudioConfig, method: str | None = None, device: str | torch.device = "cpu"
) -> PitchExtractor:
    """The extractor a config asks for (or `method` instead of its f0_method)."""
    return get_pitch_extractor(
        method or features.f0_method, sample_rate=audio.sample_rate, hop_length=audio.hop_length,
        f0_floor=features.f0_floor, f0_ceil=features.f0_ceil, silence_db=features.f0_silence_db, device=device,
    )


def interpolate_unvoiced(f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Offline gap filling (the paper's): linear in Hz between voiced frames, edges held.

    With no voiced frame at all the result is all zeros.
    """
    f0 = np.asarray(f0, dtype=np.float32)
    mask = np.asarray(voiced, dtype=bool) & (f0 > 0)
    if not mask.any():
        return np.zeros_like(f0)
    index = np.arange(len(f0))
    # np.interp holds the end values beyond the first and last voiced frame.
    return np.interp(index, index[mask], f0[mask]).astype(np.float32)


def shift_f0(f0: np.ndarray, semitones: float) -> np.ndarray:
    """Transpose by (fractional) semitones; unvoiced zeros stay zero."""
    return (np.asarray(f0, dtype=np.float32) * np.float32(2.0 ** (float(semitones) / 12.0))).astype(np.float32)


class UnvoicedHold:
    """Streaming gap filling with no look-ahead: unvoiced frames repeat the last voiced F0.

    Before the first voiced frame (or after `reset`) gaps get `initial` Hz.
    """

    def __init__(self, initial: float = 0.0) -> None:
        self.initial = float(initial)
        self.last = self.initial

    def process(self, f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        f0 = np.asarray(f0, dtype=np.float32)
        mask = np.asarray(voiced, dtype=bool) & (f0 > 0)
        out = np.empty_like(f0)
        last = self.last
        for i in range(len(f0)):  # blocks are a few frames long; a plain loop is clearest
            if mask[i]:
                last = float(f0[i])
            out[i] = last
        self.last = last
        return out

    def preview(self, f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        """What `process` would return, without moving the hold (for estimates not yet final)."""
        last = self.last
        try:
            return self.process(f0, voiced)
        finally:
            self.last = last

    def reset(self) -> None:
        self.last = self.initial
