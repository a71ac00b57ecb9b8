"""Sample-rate conversion for numpy arrays and torch tensors alike.

One function so that every caller (file loading, the live engine, feature
extractors at their own rates) resamples the same way: torchaudio's
band-limited sinc interpolation, along the last axis.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF


def resample(audio: np.ndarray | torch.Tensor, orig_sr: int, new_sr: int) -> np.ndarray | torch.Tensor:
    """Resample along the last axis; numpy in -> float32 numpy out, tensor in -> tensor out."""
    orig_sr, new_sr = int(orig_sr), int(new_sr)
    if orig_sr <= 0 or new_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {new_sr}")
    if isinstance(audio, torch.Tensor):
        if orig_sr == new_sr:
            return audio
        signal = audio if audio.is_floating_point() else audio.float()
        return AF.resample(signal, orig_sr, new_sr)
    array = np.asarray(audio, dtype=np.float32)
    if orig_sr == new_sr:
        return array
    return AF.resample(torch.from_numpy(np.ascontiguousarray(array)), orig_sr, new_sr).numpy()
