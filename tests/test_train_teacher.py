import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.checkpoint import with_prefix
from core.config import load_config
from core.data.preprocess import preprocess
from core.errors import UserError
from core.features.content import CONTENT_PREFIX, encoder_from_tensors
from core.model.model_file import load_model
from core.train.teacher import RunOptions, train_teacher
from tests.test_data_fixtures import MICRO, make_corpus, micro_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("data"), singers=2, files=3)
    out = tmp_path_factory.mktemp("cache")
    preprocess(root, out, micro_config(), progress=False, log=lambda m: None)
    return out


def test_teacher_file_holds_encoder_and_leakage_is_measured(cache, tmp_path):
    messages = []
    summary = train_teacher(cache, tmp_path / "t.safetensors", micro_config(),
                            RunOptions(steps=3, checkpoint_every=3, progress=False, tensorboard=True),
                            log=messages.append)
    leakage = summary["leakage"]
    assert 0.0 <= leakage["accuracy"] <= 1.0 and leakage["chance"] == pytest.approx(0.5, abs=0.2)
    assert any("speaker probe" in m for m in messages)
    bundle = load_model(tmp_path / "t.safetensors")
    assert bundle.teacher is not None and bundle.singers.names == ["singer0", "singer1"]
    encoder = encoder_from_tensors(with_prefix(bundle.extra_parts["content"], CONTENT_PREFIX),
                                   bundle.metadata["content"], bundle.config.audio)
    codes = encoder.encode(torch.zeros(24000), 187)
    assert codes.shape == (187, MICRO["features.content_dim"])
    assert bundle.metadata["training"]["leakage"]["accuracy"] == leakage["accuracy"]
    assert "val_mel_l1" in summary["validation"]
    assert any((tmp_path / "t.logs").iterdir())  # TensorBoard events


def test_cache_for_another_front_end_is_a_clear_error(cache, tmp_path):
    with pytest.raises(UserError, match="mels"):
        train_teacher(cache, tmp_path / "t.safetensors", micro_config().replace({"audio.n_mels": 64}),
                      RunOptions(steps=1, progress=False, tensorboard=False))


def test_cli_errors_are_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cli.main", "train", "teacher", str(tmp_path / "none"),
                             "--out", str(tmp_path / "x.safetensors")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "preprocess" in result.stderr
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.slow
def test_train_all_end_to_end(tmp_path):
    root = make_corpus(tmp_path / "data", singers=2, files=4)
    overrides = {**MICRO, "train.teacher_lr": 1e-3, "train.student_lr": 1e-4}
    sets = sum((["--set", f"{k}={v}"] for k, v in overrides.items()), [])
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "train", "all", str(root), str(tmp_path / "out"), "--json", "--no-progress",
         "--vocoder-steps", "30", "--teacher-steps", "300", "--student-steps", "100", "--batch-size", "8",
         "--threads", "1", *sets],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    bundle = load_model(tmp_path / "out" / "model.safetensors")
    assert {"teacher", "student", "content", "vocoder", "retrieval"} <= set(bundle.metadata["parts"])
    import json

    report = json.loads(result.stdout)
    for stage in ("teacher", "student"):
        assert report["stages"][stage]["last_loss"] < report["stages"][stage]["first_loss"]


def test_loss_curve_splits_the_run_into_equal_parts():
    from core.train.loop import _curve

    history = [(step, float(step % 7)) for step in range(1, 2202)]  # 2201 steps: not a multiple of 10
    curve = _curve(history)
    assert len(curve) == 10 and curve[-1][0] == 2201
    sizes = [b[0] - a[0] for a, b in zip([(0, 0.0)] + curve[:-1], curve)]
    assert max(sizes) - min(sizes) <= 1  # no one-step tail standing in for the end of the run
    assert curve[0][1] == pytest.approx(sum(v for _, v in history[:220]) / 220)
    assert _curve(history[:3]) == [(1, 1.0), (2, 2.0), (3, 3.0)] and _curve([]) == []


def test_band_limit_reaches_the_teachers_content_input_when_a_generator_draws_it(cache):
    from core.data.dataset import CachedDataset
    from core.train.student import content_of
    from core.train.teacher import build_teacher_system

    data = CachedDataset(cache, "train")
    batch = data.batch(4, 64, torch.Generator().manual_seed(0))
    codes = {}
    for share in (0.0, 1.0):
        cfg = load_config("tiny", {**MICRO, "train.content_band_limit_prob": share})
        torch.manual_seed(0)
        system = build_teacher_system(cfg, data, 0.0, 0.0).eval()
        codes[share] = system.content(batch, torch.Generator().manual_seed(3))
        assert torch.equal(system.content(batch, None), system.encoder.forward_mel(batch.mel_perturbed))
    assert not torch.allclose(codes[0.0], codes[1.0])
    assert torch.equal(codes[0.0], system.encoder.forward_mel(batch.mel_perturbed))
    # The student's frozen codes get the same cut when training asks for it, and none otherwise.
    cut = content_of(system.encoder, batch, (cfg, torch.Generator().manual_seed(3)))
    assert torch.allclose(cut, codes[1.0]) and torch.equal(content_of(system.encoder, batch), codes[0.0])
