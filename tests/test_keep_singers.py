"""`comosvc keep-singers`: a model cut down to some of its singers converts them exactly as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cli.main import main
from core.checkpoint import load_model_file
from core.convert import VoiceModel, convert_audio
from core.features.retrieval import SingerIndex
from core.model.model_file import replace_part
from core.model.singer_transfer import SINGER_TABLE_KEY as TABLE
from tests.convert_fixtures import build_tiny_model, sung_tone

SINGERS = ("alto", "bass", "tenor")
MEDIANS = {"alto": 330.0, "bass": 110.0, "tenor": 220.0}


@pytest.fixture()
def model_path(tmp_path):
    """A tiny model of three singers, with a retrieval index whose tables differ per singer."""
    path = tmp_path / "three.safetensors"
    model = build_tiny_model(path, SINGERS, MEDIANS)
    dim = model.config.features.content_dim
    index = SingerIndex([torch.full((4, dim), float(i)) for i in range(len(SINGERS))])
    replace_part(path, path, "retrieval", index.file_part())
    return path


def _convert(path, singer: str) -> np.ndarray:
    audio, _, _ = convert_audio(VoiceModel.load(path), sung_tone(0.5), 24000, singer, retrieval=0.5)
    return audio


def test_kept_singers_keep_their_rows_tables_and_medians_in_the_order_named(tmp_path, model_path):
    out = tmp_path / "two.safetensors"
    assert main(["keep-singers", str(model_path), "tenor", "alto", "--out", str(out)]) == 0
    before, _ = load_model_file(model_path)
    after, meta = load_model_file(out)
    assert meta["singers"] == ["tenor", "alto"] and meta["config"]["model"]["n_singers"] == 2
    assert meta["singer_f0_median_hz"] == {"tenor": 220.0, "alto": 330.0}
    for part in ("teacher", "student"):
        assert torch.equal(after[f"{part}.{TABLE}"], before[f"{part}.{TABLE}"][[2, 0]])
    assert sorted(k for k in after if k.startswith("retrieval.")) == ["retrieval.0", "retrieval.1"]
    assert torch.equal(after["retrieval.0"], before["retrieval.2"])
    assert torch.equal(after["retrieval.1"], before["retrieval.0"])
    untouched = [k for k in before if not k.endswith(TABLE) and not k.startswith("retrieval.")]
    assert all(torch.equal(after[k], before[k]) for k in untouched)
    # The same conversion, sample for sample, and a different one for another singer.
    assert np.array_equal(_convert(out, "alto"), _convert(model_path, "alto"))
    assert not np.array_equal(_convert(out, "tenor"), _convert(out, "alto"))


def test_drop_names_the_singers_to_leave_out(tmp_path, model_path):
    out = tmp_path / "two.safetensors"
    assert main(["keep-singers", str(model_path), "bass", "--drop", "--out", str(out)]) == 0
    assert VoiceModel.load(out).singers.names == ["alto", "tenor"]


def test_refusals_write_nothing(tmp_path, model_path, capsys):
    out = tmp_path / "out.safetensors"
    assert main(["keep-singers", str(model_path), "soprano", "--out", str(out)]) == 2
    assert "no singer soprano" in capsys.readouterr().err and not out.exists()
    assert main(["keep-singers", str(model_path), *SINGERS, "--drop", "--out", str(out)]) == 2
    assert "at least one" in capsys.readouterr().err and not out.exists()
    out.write_bytes(b"keep me")
    assert main(["keep-singers", str(model_path), "alto", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"keep me"
