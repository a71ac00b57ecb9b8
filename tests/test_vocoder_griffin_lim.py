"""Griffin-Lim fallback and the `comosvc vocode` command."""

import json

import numpy as np
import soundfile as sf
import torch

from cli.main import main
from core.audio.mel import MelSpectrogram
from core.config import load_config
from core.vocoder.griffin_lim import GriffinLimVocoder


def harmonic_tone(seconds: float = 0.6, hz: float = 220.0) -> torch.Tensor:
    t = torch.arange(int(24000 * seconds)) / 24000
    return sum(0.2 / k * torch.sin(2 * np.pi * k * hz * t) for k in range(1, 8)).float()


def test_griffin_lim_resynthesis_is_close_in_mel():
    cfg = load_config("paper").audio
    mel = MelSpectrogram(cfg)
    tone = harmonic_tone()
    log_mel = mel(tone)
    vocoder = GriffinLimVocoder(cfg, n_iter=16)
    out = vocoder.synthesize(log_mel, torch.zeros(log_mel.shape[1]))
    assert out.shape == (log_mel.shape[1] * 128,)
    inner = slice(4, -4)  # edges see padding
    distance = (mel(out)[:, inner] - log_mel[:, inner]).abs().mean()
    silence_distance = (mel(torch.zeros_like(tone))[:, inner] - log_mel[:, inner]).abs().mean()
    assert distance < 0.35 and distance < 0.2 * silence_distance


def test_griffin_lim_stream_keeps_length_and_lag():
    cfg = load_config("paper").audio
    vocoder = GriffinLimVocoder(cfg, n_iter=4)
    log_mel = MelSpectrogram(cfg)(harmonic_tone(0.3))
    stream = vocoder.stream()
    pieces = [stream.process(log_mel[:, i : i + 8], torch.zeros(log_mel[:, i : i + 8].shape[1]))
              for i in range(0, log_mel.shape[1], 8)]
    out = torch.cat(pieces)
    assert out.shape == (log_mel.shape[1] * 128,)
    assert float(out[: vocoder.latency_samples].abs().max()) == 0.0
    assert float(out[vocoder.latency_samples :].abs().max()) > 0.01


def test_vocode_command_writes_audio_and_figures(tmp_path, capsys):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, harmonic_tone(0.5).numpy(), 24000)
    assert main(["vocode", str(src), "--out", str(dst), "--vocoder", "griffin-lim", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert dst.is_file() and report["vocoder"] == "griffin-lim"
    assert report["rtf"] > 0 and report["log_mel_l1"] < 0.5
    assert report["f0_median_cents"] < 50  # Griffin-Lim keeps harmonic spacing


def test_vocode_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    dst = tmp_path / "out.wav"
    assert main(["vocode", str(tmp_path / "missing.wav"), "--out", str(dst), "--vocoder", "griffin-lim"]) == 2
    assert main(["vocode", str(tmp_path / "missing.wav"), "--out", str(dst), "--vocoder", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 2
    assert not dst.exists()
