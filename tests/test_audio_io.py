"""Audio file loading/saving and resampling."""

import numpy as np
import pytest
import soundfile as sf
import torch

from core.audio.io import load_audio, save_audio
from core.audio.resample import resample
from core.errors import AudioFileError


def _sine(freq: float, sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _dominant_freq(audio: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * sr / len(audio))


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg"])
def test_stereo_file_at_other_rate_loads_mono_resampled(tmp_path, ext):
    left = _sine(440.0, 44100, 0.5)
    stereo = np.stack([left, left], axis=1)
    path = tmp_path / f"in{ext}"
    sf.write(str(path), stereo, 44100)
    audio = load_audio(path, 24000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 12000) <= 1
    assert abs(_dominant_freq(audio, 24000) - 440.0) < 5.0


def test_channels_are_averaged(tmp_path):
    sig = _sine(300.0, 24000, 0.2)
    path = tmp_path / "anti.wav"
    sf.write(str(path), np.stack([sig, -sig], axis=1), 24000, subtype="FLOAT")
    assert np.max(np.abs(load_audio(path, 24000))) < 1e-6


def test_save_then_load_round_trip(tmp_path):
    sig = _sine(220.0, 24000, 0.3)
    path = tmp_path / "out.wav"
    save_audio(path, sig, 24000)
    assert np.allclose(load_audio(path, 24000), sig, atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name != "out.wav"], "temporary file left behind"


@pytest.mark.parametrize("ext", [".ogg", ".mp3"])
def test_lossy_formats_round_trip_in_pitch(tmp_path, ext):
    path = tmp_path / f"out{ext}"
    save_audio(path, _sine(440.0, 24000, 0.5), 24000)
    audio = load_audio(path, 24000)
    assert abs(len(audio) - 12000) < 2400  # codecs may pad a frame
    assert abs(_dominant_freq(audio, 24000) - 440.0) < 5.0


def test_save_accepts_tensor_and_flac(tmp_path):
    sig = torch.from_numpy(_sine(220.0, 24000, 0.1))
    path = tmp_path / "out.flac"
    save_audio(path, sig, 24000)
    assert np.allclose(load_audio(path, 24000), sig.numpy(), atol=1e-4)


def test_missing_file(tmp_path):
    with pytest.raises(AudioFileError, match="not found"):
        load_audio(tmp_path / "nope.wav", 24000)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 24000)
    with pytest.raises(AudioFileError, match="0 samples"):
        load_audio(path, 24000)


def test_zero_byte_file_says_it_is_empty(tmp_path):
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioFileError, match="is empty \\(0 bytes\\)"):
        load_audio(path, 24000)


@pytest.mark.parametrize("content", [b"this is not audio at all" * 10, b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_non_audio_file(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match="not a readable audio file"):
        load_audio(path, 24000)


def test_non_finite_samples(tmp_path):
    sig = _sine(220.0, 24000, 0.1)
    sig[10] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), sig, 24000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        load_audio(path, 24000)


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioFileError, match="folder"):
        load_audio(tmp_path, 24000)


def test_save_rejects_unknown_extension_and_nan_without_writing(tmp_path):
    with pytest.raises(AudioFileError, match="extension"):
        save_audio(tmp_path / "out.xyz", np.zeros(10, np.float32), 24000)
    bad = np.zeros(10, np.float32)
    bad[3] = np.inf
    with pytest.raises(AudioFileError, match="NaN"):
        save_audio(tmp_path / "out.wav", bad, 24000)
    assert list(tmp_path.iterdir()) == []


def test_resample_keeps_type_and_length():
    sig = _sine(1000.0, 48000, 0.25)
    out_np = resample(sig, 48000, 16000)
    out_t = resample(torch.from_numpy(sig), 48000, 16000)
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32
    assert isinstance(out_t, torch.Tensor)
    assert len(out_np) == len(out_t) == 4000
    assert np.allclose(out_np, out_t.numpy(), atol=1e-6)
    assert abs(_dominant_freq(out_np, 16000) - 1000.0) < 8.0
    assert resample(sig, 24000, 24000) is sig
