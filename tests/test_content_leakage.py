"""Speaker-ID probe: finds a singer when the features carry one, chance on noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from core.audio.mel import MelSpectrogram
from core.config import load_config
from core.errors import UserError
from core.train.leakage import speaker_probe, split_clips

AUDIO = load_config("tiny").audio
SR = AUDIO.sample_rate
VOICES = {"low": ((500, 1100), 110.0), "high": ((900, 2600), 260.0)}  # formants, base f0


def _sung_clip(formants: tuple[int, int], f0: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * SR)) / SR
    pitch = f0 * 2 ** (rng.uniform(-3, 3) / 12) * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 30))
    for centre in formants:
        r = np.exp(-np.pi * 150 / SR)
        x = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * centre / SR), r * r], x)
    x = x / np.abs(x).max() * rng.uniform(0.1, 0.5) + 0.003 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def test_probe_finds_the_singer_in_raw_mel():
    mel = MelSpectrogram(AUDIO)
    clips, speakers = [], []
    for name, (formants, f0) in VOICES.items():
        for seed in range(6):
            clips.append(mel(torch.from_numpy(_sung_clip(formants, f0, seed + 100 * len(clips)))).T)
            speakers.append(name)
    result = speaker_probe(clips, speakers, iterations=50)
    assert result.n_speakers == 2 and result.test_clips == 4
    assert result.accuracy > result.chance + 0.3
    assert result.clip_accuracy == 1.0


def test_probe_stays_near_chance_on_noise():
    g = torch.Generator().manual_seed(0)
    clips = [torch.randn(150, 16, generator=g) for _ in range(24)]
    speakers = [f"s{i % 4}" for i in range(24)]
    result = speaker_probe(clips, speakers, iterations=50)
    assert result.chance == pytest.approx(0.25, abs=0.01)
    assert abs(result.accuracy - result.chance) < 0.1


def test_split_holds_out_clips_of_every_singer():
    speakers = ["a"] * 5 + ["b"] * 3
    train, test = split_clips(speakers, 0.3, torch.Generator().manual_seed(0))
    assert set(train).isdisjoint(test) and sorted(train + test) == list(range(8))
    assert {speakers[i] for i in test} == {"a", "b"} and {speakers[i] for i in train} == {"a", "b"}
    with pytest.raises(UserError):
        split_clips(["a", "a", "b"], 0.3, torch.Generator())


def test_probe_encoder_runs_an_encoder_on_audio():
    from core.features.content_builtin import BuiltinContentEncoder
    from core.train.leakage import probe_encoder

    cfg = load_config("tiny")
    encoder = BuiltinContentEncoder.from_config(cfg).eval()
    clips = [_sung_clip(VOICES[name][0], VOICES[name][1], seed) for name in VOICES for seed in range(3)]
    speakers = [name for name in VOICES for _ in range(3)]
    result = probe_encoder(encoder, clips, speakers, cfg.audio.hop_length, iterations=20)
    # one held-out clip per singer, every frame of it (0.5 s -> 93 mel frames) scored
    assert result.n_speakers == 2 and result.test_clips == 2 and result.test_frames == 2 * (len(clips[0]) // 128)
