"""Offline reference for the live path: convert a whole file at once and compare.

`compare_to_offline` is what `comosvc simulate` reports and the tests assert:
after undoing the engine's latency, how far the streamed output is from the
same converter run over the whole file in one window (log-mel L1 distance
away from the first second, and the sample lag that aligns them best).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from realtime.converter import Converter, ConverterControls
from realtime.resampler import StreamingResampler


def offline_convert(converter: Converter, audio_24k: np.ndarray, controls: ConverterControls) -> np.ndarray:
    """The converter over the whole signal as one window (what a file conversion would do)."""
    audio = np.asarray(audio_24k, dtype=np.float32)
    if hasattr(converter, "offline"):  # a model converter: its own offline path (core.convert)
        return np.asarray(converter.offline(audio, controls), dtype=np.float32)
    converter.reset()
    result = converter.convert(audio, 0, len(audio), controls).audio
    converter.reset()
    return np.asarray(result, dtype=np.float32)


def to_rate(audio: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Whole-signal resampling with the streaming resampler, its delay removed."""
    if orig_sr == new_sr:
        return np.asarray(audio, dtype=np.float32)
    rs = StreamingResampler(orig_sr, new_sr)
    delay = int(round(rs.delay_out_samples))
    pad = int(np.ceil(delay * orig_sr / new_sr)) + 1
    out = rs.process(np.concatenate([audio, np.zeros(pad, dtype=np.float32)]))
    n = int(round(len(audio) * new_sr / orig_sr))
    return out[delay:delay + n]


def log_mel(audio_24k: np.ndarray, n_mels: int = 80) -> np.ndarray:
    from core.audio.mel import MelSpectrogram
    from core.config import load_config

    cfg = load_config("paper").audio
    with torch.no_grad():
        return MelSpectrogram(cfg)(torch.from_numpy(np.ascontiguousarray(audio_24k, dtype=np.float32))).numpy()


COMPARE_SKIP_S = 1.0     # start-up the comparison leaves out
COMPARE_MIN_S = 0.25     # the least audio left to compare after that


def comparable(streamed_24k_len: int, latency_24k: int, skip_s: float = COMPARE_SKIP_S) -> bool:
    """Whether a streamed output this long, once its latency is undone, leaves enough to compare."""
    return streamed_24k_len - latency_24k - int(skip_s * 24000) >= int(COMPARE_MIN_S * 24000)


@dataclass(frozen=True)
class OfflineComparison:
    logmel_distance: float   # mean |log10 mel| difference over frames after `skip_s`
    best_lag_samples: int    # extra lag (24 kHz samples) beyond the reported latency that aligns best; 0 = exact
    correlation: float       # normalised correlation at that lag


def compare_to_offline(streamed_24k: np.ndarray, offline_24k: np.ndarray, latency_24k: int,
                       skip_s: float = COMPARE_SKIP_S, max_lag: int = 480) -> OfflineComparison:
    """Align `streamed` by the reported latency, then compare with `offline` from `skip_s` on."""
    sr = 24000
    aligned = streamed_24k[latency_24k:]
    n = min(len(aligned), len(offline_24k))
    start = int(skip_s * sr)
    if not comparable(n + latency_24k, latency_24k, skip_s):
        raise ValueError("signal too short to compare after skipping the first second")
    a, b = aligned[start:n].astype(np.float64), offline_24k[start:n].astype(np.float64)
    lags = np.arange(-max_lag, max_lag + 1)
    core = slice(max_lag, len(a) - max_lag)
    scores = [float(np.dot(a[core.start + lag:core.stop + lag], b[core])) for lag in lags]
    best = int(np.argmax(scores))
    norm = np.sqrt(np.dot(a[core], a[core]) * np.dot(b[core], b[core])) + 1e-12
    mel_a, mel_b = log_mel(a.astype(np.float32)), log_mel(b.astype(np.float32))
    return OfflineComparison(float(np.mean(np.abs(mel_a - mel_b))), int(lags[best]), float(scores[best] / norm))
