"""What every pitch extractor shares: the track type, frame alignment, gating.

Each method reports F0 on its own native grid (its own hop and frame centres).
`PitchExtractor.extract` resamples that onto the mel frame grid: frame t of
the mel front end is centred at sample t*hop + hop/2, so pitch frame t is the
estimate at that instant. Between two voiced native frames the value is
interpolated in log-frequency; next to an unvoiced one the nearest frame wins.
Then frames outside [f0_floor, f0_ceil] or quieter than `silence_db` are
marked unvoiced, the same way for every method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PitchTrack:
    """F0 in Hz per mel frame (0 where unvoiced) and the voiced mask."""

    f0: np.ndarray  # float32 (frames,)
    voiced: np.ndarray  # bool (frames,)

    def __len__(self) -> int:
        return len(self.f0)


class PitchExtractor(ABC):
    """Base of all methods; subclasses implement `_native` only."""

    name: str = ""
    # Live: whether a frame's estimate improves once the lookahead's audio has arrived after it, so
    # the stream estimates the lookahead frames again before the vocoder uses them. True for WORLD
    # (DIO at the block's edge misjudges voicing); FCPE showed no gain (BENCHMARKS.md, "Live quality").
    revise_at_lookahead: bool = False

    def __init__(
        self,
        sample_rate: int = 24000,
        hop_length: int = 128,
        f0_floor: float = 50.0,
        f0_ceil: float = 1100.0,
        silence_db: float = -60.0,
        device: str | torch.device = "cpu",
    ) -> None:
        if not 0 < f0_floor < f0_ceil:
            raise ValueError(f"need 0 < f0_floor < f0_ceil, got {f0_floor}, {f0_ceil}")
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        self.f0_floor = float(f0_floor)
        self.f0_ceil = float(f0_ceil)
        self.silence_db = float(silence_db)
        self.device = torch.device(device)

    @abstractmethod
    def _native(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times in seconds, f0 Hz, voiced bool) on the method's own grid, times ascending."""

    def frame_times(self, n_frames: int) -> np.ndarray:
        """Centre of each mel frame, in seconds."""
        return (np.arange(n_frames) + 0.5) * self.hop_length / self.sample_rate

    def extract(self, audio: np.ndarray | torch.Tensor, n_frames: int | None = None) -> PitchTrack:
        """F0 for `audio` (mono, at `sample_rate`) on the mel frame grid (len // hop frames by default)."""
        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
        audio = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(-1))
        if not np.isfinite(audio).all():
            raise ValueError("audio contains NaN or infinite samples")
        frames = len(audio) // self.hop_length if n_frames is None else int(n_frames)
        if frames <= 0:
            return PitchTrack(np.zeros(0, np.float32), np.zeros(0, bool))
        # Too short for any method's analysis window: pad with silence (gated unvoiced below).
        min_len = max(4 * self.hop_length, 2048)
        padded = audio if len(audio) >= min_len else np.pad(audio, (0, min_len - len(audio)))
        times, f0, voiced = self._native(padded)
        f0, voiced = align_to_times(times, f0, voiced, self.frame_times(frames))
        voiced &= (f0 >= self.f0_floor) & (f0 <= self.f0_ceil)
        voiced &= ~quiet_frames(audio, self.frame_times(frames) * self.sample_rate, 4 * self.hop_length,
                                self.silence_db)
        f0 = np.where(voiced, f0, 0.0).astype(np.float32)
        return PitchTrack(f0, voiced)


def align_to_times(
    times: np.ndarray, f0: np.ndarray, voiced: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sample a native track at `targets` (seconds): log-linear between voiced neighbours, else nearest."""
    times = np.asarray(times, dtype=np.float64)
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = np.asarray(voiced, dtype=bool) & (f0 > 0)
    if len(times) == 0:
        return np.zeros(len(targets)), np.zeros(len(targets), bool)
    right = np.clip(np.searchsorted(times, targets), 1, max(len(times) - 1, 1))
    left = right - 1
    if len(times) == 1:
        left = right = np.zeros(len(targets), dtype=int)
    span = np.maximum(times[right] - times[left], 1e-12)
    weight = np.clip((targets - times[left]) / span, 0.0, 1.0)
    nearest = np.where(weight < 0.5, left, right)
    both = voiced[left] & voiced[right]
    safe = np.where(voiced, f0, 1.0)
    log_mix = np.exp((1 - weight) * np.log(safe[left]) + weight * np.log(safe[right]))
    out_f0 = np.where(both, log_mix, f0[nearest])
    out_voiced = np.where(both, True, voiced[nearest])
    return np.where(out_voiced, out_f0, 0.0), out_voiced


def quiet_frames(audio: np.ndarray, centres: np.ndarray, window: int, threshold_db: float) -> np.ndarray:
    """True where the RMS over `window` samples around each centre is below `threshold_db` dBFS."""
    power = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    start = np.clip(np.round(centres - window / 2).astype(int), 0, len(audio))
    end = np.clip(start + window, 0, len(audio))
    count = np.maximum(end - start, 1)
    rms = np.sqrt(np.maximum(power[end] - power[start], 0.0) / count)
    return 20.0 * np.log10(np.maximum(rms, 1e-12)) < threshold_db
