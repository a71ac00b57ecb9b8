"""Tiny synthetic corpora and configs for the data and training tests (no tests here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from core.config import Config, load_config

MICRO = {
    "model.residual_layers": 2, "model.residual_channels": 16, "model.cond_channels": 16,
    "model.step_embed_dim": 16, "model.step_mlp_dim": 32, "features.content_channels": 16,
    "features.content_dim": 8, "features.content_norm_frames": 16, "train.crop_seconds": 0.3,
    "train.batch_size": 2, "edm.distill_steps": 6,
}


def micro_config() -> Config:
    """The tiny config shrunk further: a training step takes milliseconds."""
    return load_config("tiny", MICRO)


def sung_tone(seconds: float, f0: float, sample_rate: int, brightness: float, seed: int) -> np.ndarray:
    """A harmonic tone with vibrato and a little noise; `brightness` colours the 'singer'."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / sample_rate
    y = sum(brightness ** h * np.sin((h + 1) * phase) for h in range(6))
    y = y * np.minimum(1.0, np.minimum(t, t[-1] - t) * 10) + 0.002 * rng.standard_normal(len(t))
    return (0.4 * y / np.abs(y).max()).astype(np.float32)


def make_corpus(root: Path, singers: int = 2, files: int = 3, seconds: float = 2.4) -> Path:
    """root/singer<k>/take<i>.wav at mixed sample rates."""
    rates = [24000, 16000, 44100]
    for s in range(singers):
        folder = root / f"singer{s}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            rate = rates[i % len(rates)]
            audio = sung_tone(seconds, 180.0 * (1 + 0.3 * s) * 2 ** (i / 12), rate, 0.3 + 0.4 * s, seed=10 * s + i)
            sf.write(folder / f"take{i}.wav", audio, rate)
    return root
