import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.checkpoint import load_model_file, save_model_file
from core.data.preprocess import preprocess
from core.errors import ModelFileError, UserError
from core.model.model_file import load_model
from core.train.state import TrainState, load_state, save_state
from core.train.student import train_student
from core.train.teacher import RunOptions, train_teacher
from tests.test_data_fixtures import MICRO, make_corpus, micro_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("data"), singers=2, files=3)
    out = tmp_path_factory.mktemp("cache")
    preprocess(root, out, micro_config(), progress=False, log=lambda m: None)
    return out


def _options(steps: int, **kw) -> RunOptions:
    return RunOptions(steps=steps, checkpoint_every=kw.pop("every", 2), log_every=1, progress=False,
                      tensorboard=False, **kw)


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_model_file(path)[0]


def test_teacher_resume_equals_straight_run(cache, tmp_path):
    cfg = micro_config()
    straight = train_teacher(cache, tmp_path / "a.safetensors", cfg, _options(6), log=lambda m: None)
    train_teacher(cache, tmp_path / "b.safetensors", cfg, _options(4), log=lambda m: None)
    resumed = train_teacher(cache, tmp_path / "b.safetensors", cfg, _options(6, resume=True), log=lambda m: None)
    a, b = _tensors(tmp_path / "a.safetensors"), _tensors(tmp_path / "b.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("content.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed["curve"][-1][1] == pytest.approx(straight["curve"][-1][1])
    init = train_teacher(cache, tmp_path / "c.safetensors", cfg, _options(1), log=lambda m: None)
    assert init["steps"] == 1
    c = _tensors(tmp_path / "c.safetensors")
    assert any(not torch.equal(a[k], c[k]) for k in a)  # training moved the weights


def test_teacher_resumed_under_another_objective_is_refused_and_its_state_kept(cache, tmp_path):
    band = {"train.content_band_limit_prob": 0.5}
    out = tmp_path / "t.safetensors"
    state_file = tmp_path / "t.train-state.safetensors"
    train_teacher(cache, out, micro_config().replace(band), _options(2), log=lambda m: None)
    before = state_file.read_bytes()
    refusals = (({}, "content_band_limit_prob=0.5; this run has train.content_band_limit_prob=0.0"),
                ({**band, "edm.sigma_data": 0.25}, "--set edm.sigma_data=0.2,"))
    for changed, message in refusals:
        with pytest.raises(UserError, match=re.escape(message)):
            train_teacher(cache, out, micro_config().replace(changed), _options(3, resume=True),
                          log=lambda m: None)
        assert state_file.read_bytes() == before
    resumed = train_teacher(cache, out, micro_config().replace(band), _options(3, resume=True), log=lambda m: None)
    assert resumed["steps"] == 3
    # A state written before the settings were recorded resumes as before.
    tensors, meta = load_model_file(state_file)
    save_model_file(state_file, tensors, {**meta, "extra": {}})
    assert train_teacher(cache, out, micro_config(), _options(4, resume=True), log=lambda m: None)["steps"] == 4


def test_student_resume_equals_straight_run(cache, tmp_path):
    cfg = micro_config()
    teacher = tmp_path / "teacher.safetensors"
    train_teacher(cache, teacher, cfg, _options(2), log=lambda m: None)
    train_student(cache, teacher, tmp_path / "a.safetensors", _options(5), log=lambda m: None)
    train_student(cache, teacher, tmp_path / "b.safetensors", _options(3), log=lambda m: None)
    train_student(cache, teacher, tmp_path / "b.safetensors", _options(5, resume=True), log=lambda m: None)
    a, b = load_model(tmp_path / "a.safetensors"), load_model(tmp_path / "b.safetensors")
    for (key, x), y in zip(a.student.state_dict().items(), b.student.state_dict().values()):
        assert torch.equal(x, y), key
    assert set(a.metadata["parts"]) == {"teacher", "student", "content"}
    t = load_model(teacher)
    assert torch.equal(a.teacher.state_dict()["conditioner.singer.weight"], t.teacher.state_dict()["conditioner.singer.weight"])

    # The train-state records its distillation grid: resuming onto another one is refused, file untouched.
    state_file = tmp_path / "b.train-state.safetensors"
    before = state_file.read_bytes()
    with pytest.raises(UserError, match="was distilled on the grid"):
        train_student(cache, teacher, tmp_path / "b.safetensors", _options(7, resume=True),
                      overrides={"edm.teacher_floor": 0.0}, log=lambda m: None)
    assert state_file.read_bytes() == before
    # ... as is a train-state made before grids were recorded.
    tensors, meta = load_model_file(state_file)
    save_model_file(state_file, tensors, {**meta, "extra": {}})
    with pytest.raises(UserError, match="before train-states recorded their grid"):
        train_student(cache, teacher, tmp_path / "b.safetensors", _options(7, resume=True), log=lambda m: None)


def test_student_with_band_limited_content_resumes_exactly_and_differs_from_one_without(cache, tmp_path):
    teacher = tmp_path / "teacher.safetensors"
    train_teacher(cache, teacher, micro_config(), _options(2), log=lambda m: None)
    band = {"train.content_band_limit_prob": 1.0}
    train_student(cache, teacher, tmp_path / "a.safetensors", _options(4), overrides=band, log=lambda m: None)
    train_student(cache, teacher, tmp_path / "b.safetensors", _options(2), overrides=band, log=lambda m: None)
    train_student(cache, teacher, tmp_path / "b.safetensors", _options(4, resume=True), overrides=band,
                  log=lambda m: None)
    train_student(cache, teacher, tmp_path / "c.safetensors", _options(4), log=lambda m: None)
    a, b, c = (load_model(tmp_path / f"{name}.safetensors").student.state_dict() for name in "abc")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert any(not torch.equal(a[key], c[key]) for key in a)  # the cut reached the student's condition
    # Resuming with the cut switched off, or on for a run made without it, is one clear refusal.
    for name, overrides in (("b", {}), ("c", band)):
        state_file = tmp_path / f"{name}.train-state.safetensors"
        before = state_file.read_bytes()
        with pytest.raises(UserError, match="content_band_limit_prob"):
            train_student(cache, teacher, tmp_path / f"{name}.safetensors", _options(6, resume=True),
                          overrides=overrides, log=lambda m: None)
        assert state_file.read_bytes() == before


def test_interrupted_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    state = TrainState(7, {"m": model}, {"opt": optimizer}, {"g": torch.Generator().manual_seed(3)})
    path = tmp_path / "ckpt.safetensors"
    save_state(path, state)

    import core.checkpoint

    def broken(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise KeyboardInterrupt  # as if killed mid-write

    monkeypatch.setattr(core.checkpoint, "save_file", broken)
    state.step = 8
    with pytest.raises(KeyboardInterrupt):
        save_state(path, state)
    monkeypatch.undo()
    fresh = torch.nn.Linear(3, 2)
    fresh_opt = torch.optim.AdamW(fresh.parameters())
    loaded = load_state(path, TrainState(0, {"m": fresh}, {"opt": fresh_opt}, {"g": torch.Generator()}))
    assert loaded.step == 7
    assert torch.equal(fresh.weight, model.weight)
    assert torch.equal(fresh_opt.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]  # no temp file left behind


def test_checkpoint_for_another_model_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    save_state(path, TrainState(1, {"m": torch.nn.Linear(3, 2)}, {}))
    with pytest.raises(ModelFileError, match="does not match"):
        load_state(path, TrainState(0, {"m": torch.nn.Linear(4, 2)}, {}))


def test_sigkill_during_training_leaves_a_loadable_checkpoint(cache, tmp_path):
    out = tmp_path / "t.safetensors"
    ckpt = tmp_path / "t.train-state.safetensors"
    sets = sum((["--set", f"{k}={v}"] for k, v in MICRO.items()), [])
    command = [sys.executable, "-m", "cli.main", "train", "teacher", str(cache), "--out", str(out), "--steps", "100000",
               "--checkpoint-every", "1", "--no-progress", "--no-tensorboard", "--threads", "1", *sets]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # let it be somewhere inside later checkpoint writes
        assert ckpt.exists(), "training never wrote a checkpoint"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    cfg = micro_config()
    from core.train.teacher import build_teacher_system
    from core.data.dataset import CachedDataset

    system = build_teacher_system(cfg, CachedDataset(cache), 0.1, 6.0)
    optimizer = torch.optim.AdamW(system.parameters())
    state = load_state(ckpt, TrainState(0, {"system": system}, {"adamw": optimizer}))
    assert state.step >= 1
