"""Vocoder training with range copies: re-sung outside the range, learnt through the mel loss only."""

import numpy as np
import torch

from core.config import load_config
from tests.test_vocoder_builtin import SMALL, _tone_files


def _data(tmp_path, **overrides):
    from core.train.vocoder import find_audio_files, prepare

    _tone_files(tmp_path, count=2)
    cfg = load_config("paper", {**SMALL, "vocoder.train_range_shift_max": 12.0, **overrides})
    return cfg, prepare(find_audio_files(tmp_path), cfg)


def _median_voiced(f0):
    return float(np.median(f0[f0 > 0]))


def test_range_copies_are_re_sung_outside_the_key_shift_reach(tmp_path):
    from core.train.vocoder import RangeCopy, range_copies

    cfg, data = _data(tmp_path)
    copies = range_copies(data, cfg, np.random.default_rng(0), log=None)
    assert len(copies) == 2 * len(data) and all(isinstance(c, RangeCopy) for c in copies)
    for original, pair in zip(data, (copies[0:2], copies[2:4])):
        shifts = [12 * np.log2(_median_voiced(c.f0) / _median_voiced(original.f0)) for c in pair]
        assert 4.5 < shifts[0] < 12.5 and -12.5 < shifts[1] < -4.5, shifts  # one up, one down, beyond 5
        assert all(c.audio.shape == original.audio.shape for c in pair)


def test_a_copy_that_would_leave_the_f0_range_is_skipped(tmp_path):
    from core.train.vocoder import range_copies

    # Tones at 130-230 Hz, shifts of 10-12 semitones: every copy up passes 300 Hz, every copy down stays above 50.
    cfg, data = _data(tmp_path, **{"features.f0_ceil": 300.0, "train.key_shift_max": 10.0})
    copies = range_copies(data, cfg, np.random.default_rng(0), log=None)
    assert len(copies) == len(data) and all(_median_voiced(c.f0) < _median_voiced(d.f0) for c, d in zip(copies, data))


def test_range_copies_reach_the_mel_loss_but_not_the_stft_loss(tmp_path):
    from core.audio.mel import MelSpectrogram
    from core.train.vocoder import RangeCopy, range_copies, sample_batch, vocoder_loss
    from core.vocoder.builtin import BuiltinVocoder
    from core.vocoder.stft_loss import MultiResolutionSTFTLoss

    cfg, data = _data(tmp_path)
    copies = range_copies(data, cfg, np.random.default_rng(0), log=None)
    model = BuiltinVocoder.from_config(cfg.audio, cfg.vocoder).model
    stft, mel = MultiResolutionSTFTLoss(), MelSpectrogram(cfg.audio)

    only_copies = sample_batch(copies, 4, 24, 4, 128, np.random.default_rng(1))
    assert not only_copies.fine.any()
    with torch.no_grad():
        loss, parts = vocoder_loss(model, only_copies, 4, stft, mel)
    assert parts["stft"] == 0.0 and float(loss) == parts["mel_l1"] > 0

    mixed = sample_batch(data + copies, 8, 24, 4, 128, np.random.default_rng(2))
    assert mixed.fine.any() and not mixed.fine.all()
    torch.manual_seed(0)
    with torch.no_grad():
        _, parts = vocoder_loss(model, mixed, 4, stft, mel)
        state = model.initial_state(8, mixed.offset)
        audio, _ = model(mixed.log_mel, mixed.f0, state)
        own = float(stft(audio[mixed.fine, 4 * 128 :], mixed.audio[mixed.fine]))
        everything = float(stft(audio[:, 4 * 128 :], mixed.audio))
    assert abs(parts["stft"] - own) < 1e-5 and abs(own - everything) > 1e-4
    assert isinstance(copies[0], RangeCopy)


def test_the_vocoder_makes_range_copies_by_its_own_key_not_the_caches(tmp_path):
    from core.train.vocoder import train_vocoder

    # `train all --set train.range_shift_max=12` gives the teacher's cache range copies; its vocoder stage
    # trains from scratch on real mels, where copies cost DNSMOS, so that key alone must not reach it.
    cfg, _ = _data(tmp_path, **{"vocoder.train_range_shift_max": 0.0, "train.range_shift_max": 12.0})
    lines = []
    train_vocoder(tmp_path, tmp_path / "v.safetensors", steps=1, config=cfg, log=lines.append, held_out_every=1000)
    assert not any("range copies" in line for line in lines)
    cfg = cfg.replace({"vocoder.train_range_shift_max": 12.0, "train.range_shift_max": 0.0})
    train_vocoder(tmp_path, tmp_path / "v.safetensors", steps=1, config=cfg, log=lines.append, held_out_every=1000)
    assert any(line.startswith("2 range copies of 1 files") for line in lines), lines  # one file is held out
