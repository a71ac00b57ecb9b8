"""Model file: save/load round trip, extra parts, and clear errors for bad files."""

import json

import pytest
import torch
from safetensors.torch import save_file

from core.checkpoint import METADATA_KEY, read_metadata
from core.config import load_config
from core.errors import ModelFileError
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.model_file import load_model, save_model

SINGERS = ["alto", "tenor"]


def _cfg():
    return load_config("tiny").replace(
        {"model.residual_channels": 16, "model.residual_layers": 2, "model.cond_channels": 16,
         "model.step_embed_dim": 16, "model.step_mlp_dim": 32}
    )


def _randomised(cfg) -> AcousticModel:
    model = AcousticModel.from_config(cfg, n_singers=len(SINGERS))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model.eval()


def test_round_trip_gives_identical_outputs_and_metadata(tmp_path):
    cfg = _cfg()
    teacher, student = _randomised(cfg), _randomised(cfg)
    path = tmp_path / "m.comosvc.safetensors"
    save_model(path, cfg, SINGERS, teacher=teacher, student=student,
               extra_parts={"vocoder": {"w": torch.arange(6.0)}}, extra_metadata={"vocoder": {"name": "builtin"}})
    bundle = load_model(path)
    assert bundle.singers.names == SINGERS
    assert bundle.config.model.n_singers == 2
    assert bundle.config.model.residual_channels == 16
    assert bundle.metadata["features"]["content_dim"] == cfg.features.content_dim
    assert bundle.metadata["vocoder"] == {"name": "builtin"}
    assert torch.equal(bundle.extra_parts["vocoder"]["w"], torch.arange(6.0))
    inputs = ConditionInputs.single(torch.randn(30, cfg.features.content_dim), 220 + torch.zeros(30),
                                    torch.full((30,), 0.1), 1, 0.0)
    assert torch.equal(bundle.student.one_step(inputs, seed=3), student.one_step(inputs, seed=3))
    assert torch.equal(bundle.teacher.one_step(inputs, seed=3), teacher.one_step(inputs, seed=3))
    assert bundle.generator is bundle.student


def test_student_only_file_and_missing_part(tmp_path):
    cfg = _cfg()
    path = tmp_path / "s.safetensors"
    save_model(path, cfg, SINGERS, student=_randomised(cfg))
    bundle = load_model(path)
    assert bundle.teacher is None and bundle.generator is bundle.student
    with pytest.raises(ModelFileError, match="no teacher"):
        load_model(path, parts=["teacher"])


def test_singer_count_mismatch_is_refused(tmp_path):
    cfg = _cfg()
    with pytest.raises(ValueError):
        save_model(tmp_path / "x.safetensors", cfg, ["only-one"], student=_randomised(cfg))


def test_truncated_file_is_a_clear_error(tmp_path):
    cfg = _cfg()
    path = tmp_path / "t.safetensors"
    save_model(path, cfg, SINGERS, student=_randomised(cfg))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(path)


def _rewrite_metadata(path, change):
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    meta = read_metadata(path)
    change(meta)
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(meta)})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version=99), "version"),
        (lambda m: m.update(acoustic_format=99), "acoustic model format"),
        (lambda m: m.update(kind="vocoder"), "not a 'model'"),
    ],
)
def test_other_versions_and_kinds_are_refused(tmp_path, change, message):
    cfg = _cfg()
    path = tmp_path / "v.safetensors"
    save_model(path, cfg, SINGERS, student=_randomised(cfg))
    _rewrite_metadata(path, change)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_config_that_does_not_match_tensors_is_refused(tmp_path):
    cfg = _cfg()
    path = tmp_path / "c.safetensors"
    save_model(path, cfg, SINGERS, student=_randomised(cfg))
    _rewrite_metadata(path, lambda m: m["config"]["model"].update(residual_channels=24))
    with pytest.raises(ModelFileError, match="shape"):
        load_model(path)
