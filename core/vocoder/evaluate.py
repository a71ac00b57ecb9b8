"""Analysis-resynthesis quality: how close vocoder(mel(x), f0(x)) comes to x.

Figures: log10-mel L1 between input and output (the front end of
`core.audio.mel`), and the F0 error of the output against the input's F0,
both measured by the same extractor (DESIGN: one extractor for evaluation),
over frames voiced in both: median absolute error in cents and the share of
frames off by more than 50 cents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.audio.mel import MelSpectrogram
from core.config import AudioConfig
from core.features.pitch import PitchExtractor


@dataclass
class Analysis:
    audio: np.ndarray        # float32, trimmed to a whole number of frames
    log_mel: torch.Tensor    # (n_mels, frames)
    f0: np.ndarray           # (frames,) Hz, 0 unvoiced


def analyse(audio: np.ndarray, mel: MelSpectrogram, pitch: PitchExtractor, hop: int) -> Analysis:
    frames = len(audio) // hop
    audio = np.ascontiguousarray(audio[: frames * hop], dtype=np.float32)
    with torch.no_grad():
        log_mel = mel(torch.from_numpy(audio))
    return Analysis(audio, log_mel, pitch.extract(audio, frames).f0)


def f0_errors_cents(reference: np.ndarray, output: np.ndarray) -> np.ndarray:
    """|1200 log2(out/ref)| over frames voiced in both."""
    n = min(len(reference), len(output))
    ref, out = reference[:n], output[:n]
    both = (ref > 0) & (out > 0)
    return np.abs(1200.0 * np.log2(out[both] / ref[both]))


@dataclass
class ResynthesisScore:
    log_mel_l1: float
    f0_median_cents: float
    f0_over_50_cents: float  # share of frames voiced in both
    voiced_frames: int

    def as_dict(self) -> dict[str, float]:
        return dict(log_mel_l1=self.log_mel_l1, f0_median_cents=self.f0_median_cents,
                    f0_over_50_cents=self.f0_over_50_cents, voiced_frames=self.voiced_frames)


def score_resynthesis(pairs: list[tuple[Analysis, np.ndarray]], audio_cfg: AudioConfig, mel: MelSpectrogram,
                      pitch: PitchExtractor) -> ResynthesisScore:
    """Pool (input analysis, vocoder output) pairs into one score."""
    l1_sum, l1_count, cents = 0.0, 0, []
    for ref, out in pairs:
        with torch.no_grad():
            out_mel = mel(torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)))
        n = min(out_mel.shape[1], ref.log_mel.shape[1])
        l1_sum += float((out_mel[:, :n] - ref.log_mel[:, :n]).abs().sum())
        l1_count += out_mel.shape[0] * n
        cents.append(f0_errors_cents(ref.f0, pitch.extract(out, n).f0))
    all_cents = np.concatenate(cents) if cents else np.zeros(0)
    return ResynthesisScore(
        log_mel_l1=l1_sum / max(l1_count, 1),
        f0_median_cents=float(np.median(all_cents)) if len(all_cents) else float("nan"),
        f0_over_50_cents=float((all_cents > 50).mean()) if len(all_cents) else float("nan"),
        voiced_frames=int(len(all_cents)),
    )
