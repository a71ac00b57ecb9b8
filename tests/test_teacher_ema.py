"""Teacher EMA: the saved teacher is the EMA of the trained weights; --init starts from a model file."""

import pytest
import torch

from core.config import from_stored_dict, load_config
from core.errors import UserError
from core.model.model_file import load_model
from core.train.state import load_state, TrainState
from core.train.teacher import RunOptions, build_teacher_system, ema_decay_at, train_teacher
from core.data.dataset import CachedDataset
from tests.test_data_fixtures import micro_config
from tests.test_train_teacher import cache  # noqa: F401 - the two-singer micro cache fixture


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def test_ema_warms_up_then_holds_the_decay():
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(100, 0.999) == pytest.approx(101 / 110)
    assert ema_decay_at(10**6, 0.999) == 0.999


def test_saved_teacher_is_the_ema_not_the_last_weights(cache, tmp_path):
    cfg = micro_config().replace({"train.teacher_ema_decay": 0.9})
    out = tmp_path / "t.safetensors"
    train_teacher(cache, out, cfg, RunOptions(steps=6, checkpoint_every=6, progress=False, tensorboard=False),
                  log=lambda m: None)
    saved = _flat(load_model(out).teacher)
    # The training checkpoint holds both the raw weights and the EMA; the file has the EMA.
    train = CachedDataset(cache, "train")
    system = build_teacher_system(cfg, train, 0.1, 6.0)
    ema = build_teacher_system(cfg, train, 0.1, 6.0).acoustic
    optimizer = torch.optim.AdamW(system.parameters())
    load_state(tmp_path / "t.train-state.safetensors",
               TrainState(0, {"system": system, "teacher_ema": ema}, {"adamw": optimizer},
                          {"data": torch.Generator(), "eq": torch.Generator(), "noise": torch.Generator()}))
    assert torch.allclose(saved, _flat(ema))
    assert not torch.allclose(saved, _flat(system.acoustic))


def test_without_ema_the_last_weights_are_saved(cache, tmp_path):
    cfg = micro_config().replace({"train.teacher_ema_decay": 0.0})
    out = tmp_path / "t.safetensors"
    train_teacher(cache, out, cfg, RunOptions(steps=2, progress=False, tensorboard=False), log=lambda m: None)
    assert load_model(out).config.train.teacher_ema_decay == 0.0


def test_init_starts_from_a_model_file_and_checks_it(cache, tmp_path):
    cfg = micro_config()
    first = tmp_path / "first.safetensors"
    train_teacher(cache, first, cfg, RunOptions(steps=2, progress=False, tensorboard=False), log=lambda m: None)
    # Zero steps from --init: the file written is the one it started from.
    again = tmp_path / "again.safetensors"
    train_teacher(cache, again, cfg, RunOptions(steps=0, progress=False, tensorboard=False), log=lambda m: None,
                  init=first)
    assert torch.allclose(_flat(load_model(first).teacher), _flat(load_model(again).teacher))
    bigger = cfg.replace({"model.residual_channels": cfg.model.residual_channels * 2})
    with pytest.raises(UserError, match="model size"):
        train_teacher(cache, tmp_path / "x.safetensors", bigger, RunOptions(steps=1, progress=False, tensorboard=False),
                      log=lambda m: None, init=first)


def test_stored_configs_from_before_an_added_key_still_load():
    data = load_config("paper").to_dict()
    del data["train"]["teacher_ema_decay"]
    assert from_stored_dict(data).train.teacher_ema_decay == 0.0
    live = load_config("live").to_dict()
    del live["edm"]["teacher_churn"]  # a model file from before churn samples its teacher as it did: the ODE
    assert load_config("live").edm.teacher_churn > 0 and from_stored_dict(live).edm.teacher_churn == 0.0
    del live["edm"]["student_latent_scale"]  # and its student from full sigma_max noise, as the paper does
    assert load_config("live").edm.student_latent_scale < 1 and from_stored_dict(live).edm.student_latent_scale == 1.0
    del data["train"]["batch_size"]  # not an added key: still an error
    with pytest.raises(Exception, match="batch_size"):
        from_stored_dict(data)


def test_init_from_a_complete_model_keeps_its_vocoder_through_the_student(cache, tmp_path):
    from core.convert.voice_model import SINGER_F0_KEY, VoiceModel, save_voice_model
    from core.train.student import train_student
    from core.vocoder.builtin import BuiltinVocoder

    cfg = micro_config()
    first = tmp_path / "first.safetensors"
    train_teacher(cache, first, cfg, RunOptions(steps=1, progress=False, tensorboard=False), log=lambda m: None)
    bundle = load_model(first)
    complete = tmp_path / "complete.safetensors"
    medians = {"singer0": 150.0, "singer1": 300.0}
    save_voice_model(complete, bundle.config, bundle.singers, bundle.teacher, None,
                     (bundle.extra_parts["content"], bundle.metadata["content"]),
                     BuiltinVocoder.from_config(cfg.audio, cfg.vocoder), singer_f0_median_hz=medians)
    teacher = tmp_path / "teacher.safetensors"
    train_teacher(cache, teacher, cfg, RunOptions(steps=1, progress=False, tensorboard=False), log=lambda m: None,
                  init=complete)
    model = tmp_path / "model.safetensors"
    train_student(cache, teacher, model, RunOptions(steps=1, progress=False, tensorboard=False), log=lambda m: None)
    loaded = VoiceModel.load(model)  # complete: content, vocoder, teacher and student
    assert loaded.singer_f0_median_hz == medians and loaded.teacher is not None
    # Resumed without --init, the teacher keeps the vocoder and medians its own file took from --init.
    state = teacher.with_name("teacher.train-state.safetensors")
    assert state.exists()
    train_teacher(cache, teacher, cfg, RunOptions(steps=2, resume=True, progress=False, tensorboard=False),
                  log=lambda m: None)
    resumed = load_model(teacher)
    assert "vocoder" in resumed.extra_parts and resumed.metadata["training"]["steps"] == 2
    assert resumed.metadata[SINGER_F0_KEY] == medians
    # Without --init the teacher file has no vocoder, so its student is no complete model.
    plain = tmp_path / "plain.safetensors"
    train_student(cache, first, plain, RunOptions(steps=1, progress=False, tensorboard=False), log=lambda m: None)
    with pytest.raises(UserError, match="vocoder"):
        VoiceModel.load(plain)
