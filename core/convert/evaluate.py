"""Quality figures of a conversion: F0 fidelity, singer similarity (Resemblyzer), relative change.

Used by bench/bench_quality.py. All figures are plain floats (None where undefined).

F0 fidelity compares two tracks on the same frame grid, on the frames where
BOTH are voiced (and > 0):
    fpc               Pearson correlation of F0 in Hz (the paper's FPC; not log-F0)
    cents_median      median of 1200*log2(out/intended), signed (a bias)
    cents_abs_median  median of |cents|
    off_50c_share     share of those frames off by more than 50 cents
    voiced_recall     share of the intended-voiced frames the output is voiced in

Singer similarity: cosine of Resemblyzer utterance embeddings (16 kHz input;
its own preprocessing: volume normalisation and VAD trimming of long silences).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from core.audio.resample import resample

EMBED_RATE = 16000
MIN_FPC_FRAMES = 3


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def both_voiced(intended_f0: np.ndarray, intended_voiced: np.ndarray, out_f0: np.ndarray, out_voiced: np.ndarray):
    """(intended Hz, output Hz) on the frames both tracks call voiced; tracks cut to the shorter."""
    n = min(len(intended_f0), len(out_f0))
    a, b = np.asarray(intended_f0[:n], np.float64), np.asarray(out_f0[:n], np.float64)
    mask = np.asarray(intended_voiced[:n], bool) & np.asarray(out_voiced[:n], bool) & (a > 0) & (b > 0)
    return a[mask], b[mask]


def f0_fidelity(intended_f0, intended_voiced, out_f0, out_voiced) -> dict:
    """The figures of the module docstring for one pair of tracks."""
    n = min(len(intended_f0), len(out_f0))
    intended_voiced_n = int((np.asarray(intended_voiced[:n], bool) & (np.asarray(intended_f0[:n]) > 0)).sum())
    a, b = both_voiced(intended_f0, intended_voiced, out_f0, out_voiced)
    result = {
        "frames": n, "intended_voiced_frames": intended_voiced_n, "both_voiced_frames": int(len(a)),
        "voiced_recall": _finite_or_none(len(a) / intended_voiced_n) if intended_voiced_n else None,
        "fpc": None, "cents_median": None, "cents_abs_median": None, "off_50c_share": None,
    }
    if len(a) == 0:
        return result
    cents = 1200.0 * np.log2(b / a)
    result.update(cents_median=_finite_or_none(np.median(cents)),
                  cents_abs_median=_finite_or_none(np.median(np.abs(cents))),
                  off_50c_share=_finite_or_none(np.mean(np.abs(cents) > 50.0)))
    result["fpc"] = pearson(a, b)
    return result


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation, None with fewer than 3 points or a constant input."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < MIN_FPC_FRAMES or a.std() < 1e-9 or b.std() < 1e-9:
        return None
    return _finite_or_none(np.clip(np.corrcoef(a, b)[0, 1], -1.0, 1.0))


def cents_summary(cents_list: Iterable[np.ndarray]) -> dict:
    """Pooled cents figures over several pairs' both-voiced frames."""
    pooled = np.concatenate([np.asarray(c, np.float64) for c in cents_list] or [np.zeros(0)])
    if len(pooled) == 0:
        return {"cents_median": None, "cents_abs_median": None, "off_50c_share": None, "both_voiced_frames": 0}
    return {
        "cents_median": _finite_or_none(np.median(pooled)),
        "cents_abs_median": _finite_or_none(np.median(np.abs(pooled))),
        "off_50c_share": _finite_or_none(np.mean(np.abs(pooled) > 50.0)),
        "both_voiced_frames": int(len(pooled)),
    }


def cents_of(intended_f0, intended_voiced, out_f0, out_voiced) -> np.ndarray:
    a, b = both_voiced(intended_f0, intended_voiced, out_f0, out_voiced)
    return 1200.0 * np.log2(b / a) if len(a) else np.zeros(0)


def mean_or_none(values: Sequence[float | None]) -> float | None:
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(kept)) if kept else None


def relative_difference(value: float | None, reference: float | None) -> float | None:
    """(value - reference) / |reference|, None where undefined."""
    if value is None or reference is None or abs(reference) < 1e-12:
        return None
    return _finite_or_none((value - reference) / abs(reference))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(np.clip(a @ b / denom, -1.0, 1.0)) if denom > 0 else 0.0


class SpeakerEmbedder:
    """Resemblyzer's VoiceEncoder (weights in its wheel) on CPU; audio in at any rate."""

    def __init__(self, device: str = "cpu") -> None:
        import warnings

        with warnings.catch_warnings():  # resemblyzer imports a deprecated scipy namespace
            warnings.simplefilter("ignore", DeprecationWarning)
            from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder(device, verbose=False)

    def preprocess(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        from resemblyzer.audio import normalize_volume, trim_long_silences
        from resemblyzer.hparams import audio_norm_target_dBFS

        wav = np.asarray(audio, np.float32).reshape(-1)
        if int(sample_rate) != EMBED_RATE:
            wav = resample(wav, int(sample_rate), EMBED_RATE)
        wav = normalize_volume(np.asarray(wav, np.float64), audio_norm_target_dBFS, increase_only=True)
        trimmed = trim_long_silences(wav)
        # The VAD may reject sung or synthetic material entirely; keep the untrimmed audio then.
        return trimmed if len(trimmed) >= EMBED_RATE // 2 else wav

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """L2-normalised 256-d utterance embedding (zeros for silence)."""
        audio = np.asarray(audio, np.float32).reshape(-1)
        if len(audio) == 0 or float(np.max(np.abs(audio))) < 1e-5:
            return np.zeros(256, np.float32)
        embedding = np.asarray(self.encoder.embed_utterance(self.preprocess(audio, sample_rate).astype(np.float32)))
        return embedding if np.isfinite(embedding).all() else np.zeros_like(embedding)

    @staticmethod
    def mean_embedding(embeddings: Sequence[np.ndarray]) -> np.ndarray:
        mean = np.mean(np.stack(embeddings), axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)
