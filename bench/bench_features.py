"""Benchmark: feature front end speed (mel, loudness, each pitch method), one thread.

Run from the repository root: .venv/bin/python bench/bench_features.py [SECONDS]
Prints seconds of compute per second of audio (RTF) on a synthetic harmonic voice,
and each pitch method's median error in cents against the known F0.
"""
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)

from core.audio.mel import MelSpectrogram  # noqa: E402
from core.config import load_config  # noqa: E402
from core.features.loudness import frame_rms  # noqa: E402
from core.features.pitch import PITCH_METHODS, get_pitch_extractor  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
cfg = load_config("paper").audio
sr, hop = cfg.sample_rate, cfg.hop_length
t = np.arange(int(SECONDS * sr)) / sr
f0_true = 220.0 * 2 ** (np.sin(2 * np.pi * 0.3 * t) + 0.5 / 12 * np.sin(2 * np.pi * 5.5 * t))  # 110-440 Hz
phase = 2 * np.pi * np.cumsum(f0_true) / sr
audio = sum(np.where(k * f0_true < 0.45 * sr, 1.0 / k, 0.0) * np.sin(k * phase) for k in range(1, 100))
audio = (0.3 * audio / np.abs(audio).max() + 0.003 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)
n = len(audio) // hop
truth = np.interp((np.arange(n) + 0.5) * hop, np.arange(len(t)), f0_true)


def timed(fn, repeats=3):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats, out


mel = MelSpectrogram(cfg)
x = torch.from_numpy(audio)
dt, _ = timed(lambda: mel(x))
print(f"mel            RTF {dt / SECONDS:.4f}")
dt, _ = timed(lambda: mel(x, key_shift=3.0))
print(f"mel key+3      RTF {dt / SECONDS:.4f}")
dt, _ = timed(lambda: frame_rms(audio, hop))
print(f"loudness       RTF {dt / SECONDS:.5f}")
for method in (*PITCH_METHODS, "fcpe-float"):
    start = time.perf_counter()
    if method == "fcpe-float":  # FCPE on its float weights, against the int8 default above
        extractor = get_pitch_extractor("fcpe", sample_rate=sr, hop_length=hop, int8=False)
    else:
        extractor = get_pitch_extractor(method, sample_rate=sr, hop_length=hop)
    load = time.perf_counter() - start
    dt, track = timed(lambda: extractor.extract(audio), repeats=1)
    v = track.voiced
    cents = 1200 * np.abs(np.log2(track.f0[v] / truth[v]))
    print(f"pitch {method:10s} RTF {dt / SECONDS:.4f}  load {load:.2f}s  voiced {v.mean():.1%}  "
          f"median err {np.median(cents):.2f} c  >50 c {np.mean(cents > 50):.1%}")
