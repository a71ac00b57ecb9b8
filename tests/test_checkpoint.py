import json

import pytest
import torch
from safetensors.torch import save_file

from core.checkpoint import FORMAT_VERSION, load_model_file, read_metadata, save_model_file, split_prefix, with_prefix
from core.errors import ModelFileError


def test_round_trip_keeps_tensors_and_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    state = {"w": torch.randn(3, 4), "b": torch.arange(5)}
    save_model_file(path, with_prefix(state, "student"), {"kind": "model", "singers": ["a", "b"]})
    tensors, meta = load_model_file(path, expect_kind="model")
    part = split_prefix(tensors, "student")
    assert torch.equal(part["w"], state["w"]) and torch.equal(part["b"], state["b"])
    assert meta == {"format_version": FORMAT_VERSION, "kind": "model", "singers": ["a", "b"]}
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left


def test_truncated_other_version_foreign_and_missing_files_are_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model_file(path, {"w": torch.randn(64, 64)}, {"kind": "model"})
    data = path.read_bytes()
    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_model_file(truncated)

    other = tmp_path / "v2.safetensors"
    save_file({"w": torch.zeros(1)}, str(other), metadata={"comosvc": json.dumps({"format_version": 99})})
    with pytest.raises(ModelFileError, match="version 99"):
        read_metadata(other)

    foreign = tmp_path / "f.safetensors"
    save_file({"w": torch.zeros(1)}, str(foreign))
    with pytest.raises(ModelFileError, match="not a CoMoSVC Live model file"):
        load_model_file(foreign)

    with pytest.raises(ModelFileError, match="not found"):
        load_model_file(tmp_path / "missing.safetensors")
    with pytest.raises(ModelFileError, match="not a 'vocoder'"):
        load_model_file(path, expect_kind="vocoder")


def test_a_failed_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model_file(path, {"w": torch.ones(2)}, {"kind": "model"})
    with pytest.raises(Exception):
        save_model_file(path, {"w": "not a tensor"}, {"kind": "model"})
    tensors, _ = load_model_file(path)
    assert torch.equal(tensors["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
