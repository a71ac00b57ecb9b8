"""`comosvc set-vocoder` and `train vocoder --init`: a model's vocoder trained further and put back."""

from __future__ import annotations

import pytest
import torch

from cli.main import main
from core.checkpoint import load_model_file
from core.convert import VoiceModel
from core.vocoder.builtin import BuiltinVocoder
from core.vocoder.files import load_vocoder_file, save_vocoder
from tests.convert_fixtures import build_tiny_model, sung_tone, tiny_config


@pytest.fixture()
def model_path(tmp_path):
    path = tmp_path / "tiny.safetensors"
    build_tiny_model(path)
    return path


def _other_vocoder(seed: int = 7) -> BuiltinVocoder:
    torch.manual_seed(seed)
    cfg = tiny_config()
    return BuiltinVocoder.from_config(cfg.audio, cfg.vocoder)


def test_the_copy_has_the_new_vocoder_and_everything_else_unchanged(tmp_path, model_path, capsys):
    vocoder_file = tmp_path / "voc.safetensors"
    save_vocoder(vocoder_file, _other_vocoder())
    out = tmp_path / "new.safetensors"
    assert main(["set-vocoder", str(model_path), str(vocoder_file), "--out", str(out)]) == 0
    before, meta_before = load_model_file(model_path)
    after, meta_after = load_model_file(out)
    new_state = load_vocoder_file(vocoder_file).state_dict()
    assert set(before) == set(after)
    for name, tensor in after.items():
        if name.startswith("vocoder."):
            assert torch.equal(tensor, new_state[name[len("vocoder."):]])
        else:
            assert torch.equal(tensor, before[name]), name
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("vocoder."))
    assert {k: v for k, v in meta_after.items() if k != "vocoder"} == {k: v for k, v in meta_before.items() if k != "vocoder"}
    model = VoiceModel.load(out)  # loads and converts like any model
    from core.convert import convert_audio
    audio, _, _ = convert_audio(model, sung_tone(0.5), 24000, "alto")
    assert audio.shape == (12000,) and bool(torch.isfinite(torch.from_numpy(audio)).all())


def test_refusals(tmp_path, model_path, capsys):
    vocoder_file = tmp_path / "voc.safetensors"
    cfg = tiny_config()
    other_rate = cfg.audio.__class__(**{**cfg.audio.__dict__, "hop_length": 256})
    save_vocoder(vocoder_file, BuiltinVocoder.from_config(other_rate, cfg.vocoder))
    out = tmp_path / "new.safetensors"
    assert main(["set-vocoder", str(model_path), str(vocoder_file), "--out", str(out)]) == 2
    assert "hop 256" in capsys.readouterr().err and not out.exists()
    out.write_bytes(b"keep me")
    assert main(["set-vocoder", str(model_path), str(model_path), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"keep me"


def test_train_vocoder_starts_from_a_model_files_vocoder(tmp_path, model_path):
    from core.audio.io import save_audio
    from core.train.vocoder import train_vocoder

    for i in range(2):
        save_audio(tmp_path / "data" / f"{i}.wav", sung_tone(1.0, hz=200.0 + 50 * i), 24000)
    cfg = tiny_config().replace({"vocoder.train_batch_size": 2, "vocoder.train_crop_frames": 16,
                                 "vocoder.train_warmup_frames": 2, "vocoder.train_lr": 0.0})  # one step that moves nothing
    out = tmp_path / "trained.safetensors"
    start = load_vocoder_file(model_path).state_dict()
    train_vocoder(tmp_path / "data", out, steps=1, config=cfg, log=None, held_out_every=1000, init=model_path)
    assert all(torch.equal(t, start[n]) for n, t in load_vocoder_file(out).state_dict().items())
    fresh = tmp_path / "fresh.safetensors"
    train_vocoder(tmp_path / "data", fresh, steps=1, config=cfg, log=None, held_out_every=1000)
    assert not all(torch.equal(t, start[n]) for n, t in load_vocoder_file(fresh).state_dict().items())
