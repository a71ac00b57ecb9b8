"""`comosvc import-vocoder`: one default file per layout, no silent replacing, one line for a bad file."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from core.vocoder.files import load_vocoder_file
from core.vocoder.registry import NSF_FILES, named_vocoder_path
from test_nsf_upstream_parity import write_published


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh home, so the default model folder is empty and ours."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMOSVC_MODEL_PATH", raising=False)
    return tmp_path / "home" / ".local" / "share" / "comosvc" / "models"


def test_each_layout_gets_its_own_default_file(tmp_path, home, capsys):
    (tmp_path / "m4").mkdir()
    (tmp_path / "ov").mkdir()
    m4, _, _ = write_published(tmp_path / "m4", "m4singer")
    ov, _, _ = write_published(tmp_path / "ov", "openvpi")
    assert main(["import-vocoder", str(m4), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["import-vocoder", str(ov), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["out"] == str(home / NSF_FILES["m4singer"])
    assert second["out"] == str(home / NSF_FILES["openvpi"])
    # Both survive, each holding its own layout.
    assert load_vocoder_file(first["out"]).generator.shape.layout == "m4singer"
    assert load_vocoder_file(second["out"]).generator.shape.layout == "openvpi"
    # "nsf-hifigan" means the paper's 24 kHz one when both are there; each is also reachable by name.
    assert named_vocoder_path("nsf-hifigan") == home / NSF_FILES["m4singer"]
    assert named_vocoder_path("nsf-hifigan-openvpi") == home / NSF_FILES["openvpi"]


def test_an_existing_file_is_replaced_only_with_force(tmp_path, home, capsys):
    path, _, _ = write_published(tmp_path, "m4singer")
    assert main(["import-vocoder", str(path)]) == 0
    default = home / NSF_FILES["m4singer"]
    before = default.read_bytes()
    capsys.readouterr()
    # Default name: refused, file untouched, one line naming the file and the way out.
    assert main(["import-vocoder", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(default) in err and "--force" in err
    assert default.read_bytes() == before
    # Explicit --out: refused before the checkpoint is even read (a missing checkpoint is not the complaint).
    other = tmp_path / "mine.safetensors"
    other.write_bytes(b"keep me")
    assert main(["import-vocoder", str(tmp_path / "absent.ckpt"), "--out", str(other)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert other.read_bytes() == b"keep me"
    # --force replaces.
    assert main(["import-vocoder", str(path), "--out", str(other), "--force"]) == 0
    assert load_vocoder_file(other).generator.shape.layout == "m4singer"
    (tmp_path / "ov").mkdir()
    ov, _, _ = write_published(tmp_path / "ov", "openvpi")
    assert main(["import-vocoder", str(ov), "--out", str(default), "--force"]) == 0
    assert load_vocoder_file(default).generator.shape.layout == "openvpi"
