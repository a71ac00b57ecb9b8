"""Issue #16: a file that is not a checkpoint, or one that names code, gets one line from the import commands.

Each case: exit 2, a single stderr line naming the file and saying what it is
(not), no traceback or pickle internals, no output file, and for booby-trapped
pickles, the code they name never runs.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from cli.main import main


class _Calls:
    """Pickles as a call of `func(*args)`: what a booby-trapped checkpoint holds."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _touch_command(marker) -> str:
    return f"touch {marker}"


def _bad_files(tmp_path) -> dict[str, tuple[object, str]]:
    """name -> (path, phrase the error line must hold)."""
    marker = tmp_path / "code-ran"
    files = {}
    noise = np.random.default_rng(0).bytes(4096)
    assert noise[:2] != b"PK" and noise[0] != 0x80   # neither a zip's nor a pickle's first bytes
    (tmp_path / "random.ckpt").write_bytes(noise)
    files["random"] = (tmp_path / "random.ckpt", "is not a PyTorch checkpoint (not a zip or pickle file)")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    files["empty"] = (tmp_path / "empty.ckpt", "is empty (0 bytes)")
    torch.save({"generator": {"conv_pre.weight": torch.zeros(4000)}}, tmp_path / "whole.ckpt")
    data = (tmp_path / "whole.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    files["truncated zip"] = (tmp_path / "truncated.ckpt", "is a truncated or damaged zip file")
    torch.save({"generator": {"conv_pre.weight": torch.zeros(4000)}}, tmp_path / "old.ckpt",
               _use_new_zipfile_serialization=False)
    old = (tmp_path / "old.ckpt").read_bytes()
    (tmp_path / "old_truncated.ckpt").write_bytes(old[:300])
    files["truncated pickle"] = (tmp_path / "old_truncated.ckpt", "truncated")
    (tmp_path / "notes.ckpt").write_text("resblock: '1'\nupsample_rates: [8, 8, 2]\n# the config, not weights\n")
    files["text"] = (tmp_path / "notes.ckpt", "is a text file, not a PyTorch checkpoint")
    (tmp_path / "system.ckpt").write_bytes(pickle.dumps({"generator": _Calls(os.system, _touch_command(marker))},
                                                        protocol=2))
    files["os.system pickle"] = (tmp_path / "system.ckpt", "refers to os.system, which a checkpoint never needs")
    (tmp_path / "eval.ckpt").write_bytes(pickle.dumps(_Calls(eval, f"open({str(marker)!r}, 'w')"), protocol=2))
    files["builtins.eval pickle"] = (tmp_path / "eval.ckpt", "refers to builtins.eval, which a checkpoint never needs")
    torch.save({"generator": {"x": _Calls(os.system, _touch_command(marker))}}, tmp_path / "zipped_system.ckpt")
    files["os.system in a zip checkpoint"] = (tmp_path / "zipped_system.ckpt", "refers to os.system")
    return files


CASES = ["random", "empty", "truncated zip", "truncated pickle", "text", "os.system pickle",
         "builtins.eval pickle", "os.system in a zip checkpoint"]


def _one_line(capsys, command: str, path, phrase: str) -> None:
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith(f"comosvc {command}: error: ") and err.count("\n") == 1, err
    assert str(path) in err and phrase in err, err
    for internals in ("Traceback", "load key", "MARK", "Ran out of input", "magic number", "weights_only",
                      "PytorchStreamReader", "GLOBAL"):
        assert internals not in err, err


@pytest.mark.parametrize("case", CASES)
def test_import_vocoder_names_what_the_file_is_not(tmp_path, capsys, case):
    path, phrase = _bad_files(tmp_path)[case]
    out = tmp_path / "voc.safetensors"
    assert main(["import-vocoder", str(path), "--out", str(out)]) == 2
    _one_line(capsys, "import-vocoder", path, phrase)
    assert not out.exists() and not list(tmp_path.glob(".voc.safetensors*"))
    assert not (tmp_path / "code-ran").exists()


@pytest.mark.parametrize("case", ["os.system pickle", "builtins.eval pickle", "random", "truncated zip"])
def test_import_content_folder_with_a_bad_bin_is_one_line(tmp_path, capsys, case):
    path, phrase = _bad_files(tmp_path)[case]
    folder = tmp_path / "hubert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "hubert", "hidden_size": 768}))
    weights = folder / "pytorch_model.bin"
    weights.write_bytes(path.read_bytes())
    out = tmp_path / "content.safetensors"
    assert main(["import-content", str(folder), "--out", str(out)]) == 2
    _one_line(capsys, "import-content", weights, phrase)
    assert not out.exists()
    assert not (tmp_path / "code-ran").exists()


def test_import_content_fairseq_pt_naming_code_is_refused(tmp_path, capsys):
    marker = tmp_path / "code-ran"
    checkpoint = {"model": {"encoder.layers.0.fc1.weight": torch.zeros(4, 4)},
                  "extra_state": {"hook": _Calls(os.system, _touch_command(marker))}}
    torch.save(checkpoint, tmp_path / "contentvec.pt")
    out = tmp_path / "content.safetensors"
    assert main(["import-content", str(tmp_path / "contentvec.pt"), "--out", str(out)]) == 2
    _one_line(capsys, "import-content", tmp_path / "contentvec.pt", "refers to os.system")
    assert not out.exists() and not marker.exists()


def test_the_checks_do_not_refuse_real_checkpoints(tmp_path):
    """A file torch.save wrote, in either format, passes the container check and loads."""
    from core.features.content_pickle import check_container, load_checkpoint

    state = {"generator": {"w": torch.arange(5.0)}, "hparams": {"lr": 2e-4}, "meter": _Calls(dict, ())}
    torch.save(state, tmp_path / "new.ckpt")
    torch.save(state, tmp_path / "old.ckpt", _use_new_zipfile_serialization=False)
    assert check_container(tmp_path / "new.ckpt") == "zip" and check_container(tmp_path / "old.ckpt") == "pickle"
    for name in ("new.ckpt", "old.ckpt"):
        loaded = load_checkpoint(tmp_path / name)
        assert torch.equal(loaded["generator"]["w"], torch.arange(5.0)) and loaded["hparams"]["lr"] == 2e-4
