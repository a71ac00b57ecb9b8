"""Vocoder fine-tuning on the model's own re-made mels (`train vocoder --aligned-to MODEL`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.audio.io import save_audio
from core.convert.reconstruction import reconstruct_log_mel
from core.errors import UserError
from tests.convert_fixtures import build_tiny_model, sung_tone, tiny_config


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "tiny.safetensors"
    return path, build_tiny_model(path)


def test_reconstruction_is_the_models_mel_of_the_recording_for_its_singer(tiny):
    _, model = tiny
    audio = sung_tone(0.5)
    alto = reconstruct_log_mel(model, audio, "alto")
    frames = len(audio) // model.hop_length
    assert alto.shape == (model.config.audio.n_mels, frames) and bool(torch.isfinite(alto).all())
    assert torch.equal(alto, reconstruct_log_mel(model, audio, "alto"))  # frame-anchored noise: repeatable
    assert not torch.allclose(alto, reconstruct_log_mel(model, audio, "bass"))  # the singer conditions it
    real = model.mel(torch.from_numpy(audio[: frames * model.hop_length]))
    assert not torch.allclose(alto, real)  # a random model's mel, not the recording's


def test_batches_of_re_made_mels_keep_the_recordings_own_mel_as_the_loss_target(tmp_path, tiny):
    from core.train.vocoder import AlignedAnalysis, aligned_analyses, find_audio_files, prepare, sample_batch

    path, _ = tiny
    for singer in ("alto", "stranger"):
        save_audio(tmp_path / "data" / singer / "0.wav", sung_tone(0.6), 24000)
    cfg = tiny_config()
    files = find_audio_files(tmp_path / "data")
    data = prepare(files, cfg)
    aligned = aligned_analyses(path, files, data, cfg, log=None)
    assert len(aligned) == 1  # only the folder named after a singer of the model
    item = aligned[0]
    real = data[[f.parent.name for f in files].index("alto")]
    assert isinstance(item, AlignedAnalysis) and torch.equal(item.real_mel, real.log_mel)
    assert np.array_equal(item.audio, real.audio) and not torch.allclose(item.log_mel, real.log_mel)
    batch = sample_batch([item], 2, 16, 4, cfg.audio.hop_length, np.random.default_rng(0))
    for mel, target in zip(batch.log_mel, batch.target_mel):
        start = next(s for s in range(item.log_mel.shape[1] - 15) if torch.equal(item.log_mel[:, s:s + 16], mel[:, 4:]))
        assert torch.equal(target, item.real_mel[:, start:start + 16])


def test_a_model_with_none_of_the_folders_singers_is_refused(tmp_path, tiny):
    from core.train.vocoder import aligned_analyses, find_audio_files, prepare

    path, _ = tiny
    save_audio(tmp_path / "data" / "tenor" / "0.wav", sung_tone(0.4), 24000)
    files = find_audio_files(tmp_path / "data")
    with pytest.raises(UserError, match="no training file is in a folder named after a singer"):
        aligned_analyses(path, files, prepare(files, tiny_config()), tiny_config(), log=None)


def test_range_copies_are_re_made_from_their_re_sung_audio_and_stay_mel_loss_only(tmp_path, tiny):
    from core.train.vocoder import (AlignedRangeCopy, RangeCopy, aligned_analyses, find_audio_files, prepare,
                                    range_copies, sample_batch)

    path, model = tiny
    save_audio(tmp_path / "data" / "alto" / "0.wav", sung_tone(0.8), 24000)
    cfg = tiny_config().replace({"vocoder.train_range_shift_max": 12.0})
    files = find_audio_files(tmp_path / "data")
    data = prepare(files, cfg)
    copies = range_copies(data, cfg, np.random.default_rng(0), log=None)
    assert len(copies) == 2 and all(c.source == 0 for c in copies)
    aligned = aligned_analyses(path, files + [files[c.source] for c in copies], data + copies, cfg, log=None)
    assert len(aligned) == 3 and not isinstance(aligned[0], RangeCopy)
    for i, (copy, item) in enumerate(zip(copies, aligned[1:]), start=1):
        assert isinstance(item, AlignedRangeCopy) and item.source == 0
        assert np.array_equal(item.audio, copy.audio) and torch.equal(item.real_mel, copy.log_mel)
        # the model's mel of the re-sung audio, not of the recording it came from
        assert torch.equal(item.log_mel, reconstruct_log_mel(model, copy.audio, "alto", seed=i))
        assert not torch.allclose(item.log_mel, reconstruct_log_mel(model, data[0].audio, "alto", seed=i))
    batch = sample_batch(aligned, 6, 16, 4, cfg.audio.hop_length, np.random.default_rng(0))
    assert batch.fine.any() and not batch.fine.all()
    for mel, target, fine in zip(batch.log_mel, batch.target_mel, batch.fine):
        owner = next(a for a in aligned for s in range(a.log_mel.shape[1] - 15)
                     if torch.equal(a.log_mel[:, s:s + 16], mel[:, 4:]) and torch.equal(a.real_mel[:, s:s + 16], target))
        assert bool(fine) == (not isinstance(owner, RangeCopy))
