import json

import pytest
import torch

from cli.main import main
from core.checkpoint import save_model_file
from core.errors import ModelFileError
from core.models import list_models, resolve_model


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COMOSVC_MODEL_PATH", str(tmp_path))
    save_model_file(tmp_path / "alto.safetensors", {"w": torch.zeros(1)},
                    {"kind": "model", "singers": ["ann", "bea"], "config": {"name": "tiny"}})
    save_model_file(tmp_path / "voc.safetensors", {"w": torch.zeros(1)}, {"kind": "vocoder"})
    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    return tmp_path


def test_models_json_lists_paths_and_singers_and_skips_bad_files(model_dir, capsys):
    assert main(["models", "--json"]) == 0
    out, err = capsys.readouterr()
    listed = {m["name"]: m for m in json.loads(out)}
    assert listed["alto"]["singers"] == ["ann", "bea"]
    assert listed["alto"]["path"] == str(model_dir / "alto.safetensors")
    assert "voc" not in listed and "broken" not in listed
    assert "broken.safetensors" in err and "voc.safetensors" in err


def test_resolve_model_by_name_and_missing(model_dir):
    assert resolve_model("alto") == model_dir / "alto.safetensors"
    with pytest.raises(ModelFileError, match="not found"):
        resolve_model("nobody")
    models, problems = list_models()
    assert [m.name for m in models if m.path.parent == model_dir] == ["alto"]
    assert len(problems) >= 2
