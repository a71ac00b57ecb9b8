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


ENVELOPE_HOP = 24        # 1 ms at 24 kHz
ENVELOPE_WINDOW = 240    # 10 ms
WAVEFORM_TRUST = 0.9     # below this correlation the waveforms do not line up sample by sample


@dataclass(frozen=True)
class OfflineComparison:
    logmel_distance: float   # mean |log10 mel| difference over frames after `skip_s`
    best_lag_samples: int    # extra lag (24 kHz samples) beyond the reported latency that aligns best; 0 = exact
    correlation: float       # normalised waveform correlation at the best waveform lag
    lag_method: str = "waveform"  # "waveform", or "envelope" where the waveforms do not correlate


def _log_envelope(audio: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(audio, ENVELOPE_WINDOW)[::ENVELOPE_HOP]
    return np.log(np.sqrt(np.mean(np.square(frames), axis=1)) + 1e-4)


def envelope_lag(pairs: list[tuple[np.ndarray, np.ndarray]], max_lag: int) -> int:
    """Samples by which each streamed piece lags its offline piece, from their log-RMS envelopes
    (1 ms steps, refined to a sample); one lag for all pairs (streamed, offline), scored jointly.

    A model's voice is not the same waveform twice: the streamed and the offline conversion differ
    in phase, and a 10 ms SOLA search moves each chunk, so their sample correlation is near 0 and
    its best lag is noise. Their loudness contours still line up, onsets and pauses above all. A
    second or two of a phrase's end can mislead (a held note, a fade); all pieces together do not.
    """
    steps = max(1, max_lag // ENVELOPE_HOP)
    dots = np.zeros(2 * steps + 1)
    power_a = np.zeros(2 * steps + 1)
    power_b = 0.0
    for a, b in pairs:
        if min(len(a), len(b)) < ENVELOPE_WINDOW + 2 * (steps + 1) * ENVELOPE_HOP:
            continue  # too short to move by the largest lag
        ea, eb = _log_envelope(a), _log_envelope(b)
        n = min(len(ea), len(eb))
        core = slice(steps, n - steps)
        ref = eb[core] - eb[core].mean()
        power_b += float(np.dot(ref, ref))
        for i, k in enumerate(range(-steps, steps + 1)):
            seg = ea[core.start + k:core.stop + k]
            seg = seg - seg.mean()
            dots[i] += float(np.dot(seg, ref))
            power_a[i] += float(np.dot(seg, seg))
    if power_b == 0.0:
        return 0
    scores = dots / (np.sqrt(power_a * power_b) + 1e-12)
    best = int(np.argmax(scores))
    shift = 0.0
    if 0 < best < len(scores) - 1:  # parabola through the peak and its neighbours
        left, mid, right = scores[best - 1], scores[best], scores[best + 1]
        denom = left - 2 * mid + right
        shift = 0.5 * (left - right) / denom if denom < 0 else 0.0
    return int(round((best - steps + shift) * ENVELOPE_HOP))


def aligned_pieces(streamed_24k: np.ndarray, offline_24k: np.ndarray,
                   spans: list[tuple[float, float, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(streamed, offline) pieces for spans of input time (start s, end s, latency in force, samples)."""
    pieces = []
    for start_s, end_s, latency in spans:
        s0, s1 = int(start_s * 24000), min(int(end_s * 24000), len(offline_24k), len(streamed_24k) - latency)
        if s1 > s0:
            pieces.append((streamed_24k[latency + s0:latency + s1], offline_24k[s0:s1]))
    return pieces


def compare_to_offline(streamed_24k: np.ndarray, offline_24k: np.ndarray, latency_24k: int,
                       skip_s: float = COMPARE_SKIP_S, max_lag: int = 480,
                       spans: list[tuple[float, float, int]] | None = None) -> OfflineComparison:
    """Align `streamed` by the reported latency, then compare with `offline` from `skip_s` on.

    spans: (start s, end s, latency) of each stretch between latency changes; where the lag comes from
    the envelopes, each stretch is judged at its own latency (default: one stretch from `skip_s`).
    """
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
    correlation = float(scores[best] / norm)
    lag, method = int(lags[best]), "waveform"
    if correlation < WAVEFORM_TRUST:
        pieces = [(a, b)] if spans is None else aligned_pieces(streamed_24k, offline_24k, spans)
        lag, method = envelope_lag(pieces, max_lag), "envelope"
    mel_a, mel_b = log_mel(a.astype(np.float32)), log_mel(b.astype(np.float32))
    return OfflineComparison(float(np.mean(np.abs(mel_a - mel_b))), lag, correlation, method)
