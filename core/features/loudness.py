"""Frame loudness: the RMS of each hop, as the paper's conditioning uses it.

DESIGN.md's definition (as in DDSP-SVC's volume extractor): square the audio,
reflect-pad hop/2 on each side, average each block of `hop` samples, take the
square root. Frame t therefore averages samples [t*hop - hop/2, t*hop + hop/2),
and there are len // hop frames, the mel's count.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def frame_rms(audio: np.ndarray | torch.Tensor, hop_length: int, n_frames: int | None = None) -> np.ndarray | torch.Tensor:
    """RMS per frame, shape (frames,) (or (B, frames) for a (B, T) tensor); same type as the input.

    `n_frames` crops or pads (holding the last value) to a given count, e.g. a mel's.
    """
    if isinstance(audio, torch.Tensor):
        return _frame_rms_torch(audio, hop_length, n_frames)
    array = np.asarray(audio, dtype=np.float32)
    return _frame_rms_torch(torch.from_numpy(np.ascontiguousarray(array)), hop_length, n_frames).numpy()


def _frame_rms_torch(audio: torch.Tensor, hop: int, n_frames: int | None) -> torch.Tensor:
    single = audio.dim() == 1
    power = (audio.unsqueeze(0) if single else audio).float().pow(2)
    length = power.shape[-1]
    frames = length // hop
    left, right = hop // 2, (hop + 1) // 2
    mode = "reflect" if max(left, right) < length else "constant"
    padded = F.pad(power.unsqueeze(1), (left, right), mode=mode).squeeze(1)
    blocks = padded[:, : frames * hop].reshape(power.shape[0], frames, hop)
    rms = blocks.mean(dim=-1).sqrt()
    if n_frames is not None:
        rms = _fit_frames(rms, int(n_frames))
    return rms[0] if single else rms


def _fit_frames(values: torch.Tensor, n_frames: int) -> torch.Tensor:
    have = values.shape[-1]
    if have >= n_frames:
        return values[..., :n_frames]
    if have == 0:
        return values.new_zeros(values.shape[0], n_frames)
    return torch.cat([values, values[..., -1:].expand(values.shape[0], n_frames - have)], dim=-1)
