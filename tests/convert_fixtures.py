"""A tiny random VoiceModel for the conversion tests (built, saved and reloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.config import load_config
from core.convert import VoiceModel, save_voice_model
from core.features.content_builtin import BuiltinContentEncoder
from core.model.acoustic import AcousticModel
from core.vocoder.builtin import BuiltinVocoder

SINGERS = ("alto", "bass")
# speechmos doubles a clip until it fills DNSMOS's 9.01 s window and then scores every 1 s hop of the
# result: a 1.0 s clip becomes 16 s and 7 windows, a 1.2 s clip 9.6 s and one window, 7 times cheaper.
DNSMOS_ONE_WINDOW_SECONDS = 1.2
MEDIANS = {"alto": 330.0, "bass": 110.0}


def tiny_config():
    return load_config("tiny").replace({
        "model.residual_layers": 2, "model.residual_channels": 16, "model.cond_channels": 16,
        "model.step_embed_dim": 16, "model.step_mlp_dim": 32,
        "features.content_channels": 16, "features.content_dim": 8, "features.content_norm_frames": 8,
        "vocoder.builtin_channels": 16, "vocoder.builtin_layers": 2, "vocoder.builtin_harmonics": 16,
        "vocoder.builtin_noise_bands": 8, "vocoder.builtin_noise_filter_half": 16,
    })


def build_tiny_model(path: Path, singers: tuple[str, ...] = SINGERS,
                     medians: dict[str, float] = MEDIANS, overrides: dict | None = None) -> VoiceModel:
    torch.manual_seed(0)
    cfg = tiny_config().replace({"model.n_singers": len(singers), **(overrides or {})})
    teacher = AcousticModel.from_config(cfg)
    student = AcousticModel.from_config(cfg)
    for net in (teacher.network, student.network):
        # The output layer starts at zero (training's choice); random weights let conditions reach the mel.
        torch.nn.init.normal_(net.output_projection.weight, std=0.3)
    save_voice_model(
        path, cfg, singers, teacher, student, BuiltinContentEncoder.from_config(cfg),
        BuiltinVocoder.from_config(cfg.audio, cfg.vocoder), medians,
    )
    return VoiceModel.load(path)


def sung_tone(seconds: float, rate: int = 24000, hz: float = 220.0) -> np.ndarray:
    """A vibrato tone with a short rest in the middle (voiced and unvoiced frames)."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = hz * 2.0 ** (0.3 * np.sin(2 * np.pi * 5 * t) / 12)
    audio = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / rate)
    audio[len(t) // 2: len(t) // 2 + rate // 10] = 0.0
    return audio.astype(np.float32)
