"""The student's validation probe: one-step output against the teacher's ODE solution from the same noise."""

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from core.audio.mel import denormalize
from core.data.preprocess import preprocess
from core.model.conditioning import ConditionInputs
from core.model.losses import make_student
from core.model.losses import _stratified_links
from core.train.student import TeacherGap, ValidationConsistency, content_of, load_teacher_file, train_student
from core.train.teacher import RunOptions, load_training_data, train_teacher
from tests.test_data_fixtures import make_corpus, micro_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("data"), singers=2, files=3)
    cache = tmp_path_factory.mktemp("cache")
    preprocess(root, cache, micro_config(), progress=False, log=lambda m: None)
    teacher = tmp_path_factory.mktemp("models") / "teacher.safetensors"
    train_teacher(cache, teacher, micro_config(), RunOptions(steps=2, progress=False, tensorboard=False),
                  log=lambda m: None)
    return cache, teacher


@pytest.fixture(scope="module")
def loaded(trained):
    """(config, validation clips, frozen teacher, content encoder) of the trained teacher file."""
    cache, teacher_path = trained
    bundle, encoder = load_teacher_file(teacher_path)
    _, val = load_training_data(cache, bundle.config)
    return bundle.config, val, bundle.teacher.eval(), encoder


class _TeacherOde(nn.Module):
    """A 'student' whose one step IS the teacher's sampler run of `steps` evaluations for that seed."""

    def __init__(self, teacher, steps: int, churn: float = 0.0) -> None:
        super().__init__()
        self.teacher, self.steps, self.churn = teacher, steps, churn

    def sample(self, inputs, steps=1, frame_offset=0, seed=0):
        return self.teacher.sample_teacher(inputs, self.steps, frame_offset, seed, churn=self.churn)


def test_gap_is_the_distance_to_the_teacher_ode_from_the_same_noise(loaded):
    cfg, val, teacher, encoder = loaded
    content_fn = lambda b: content_of(encoder, b)  # noqa: E731
    gap = TeacherGap(teacher, val, cfg, content_fn, torch.device("cpu"), clips=2, seed=5)

    student, _ = make_student(teacher)
    student.train()
    measured = gap(student)
    assert student.training  # the probe leaves the mode as it found it
    # the tiny config has a teacher floor: its sampler takes the N - 1 links to the floor, then D(x, floor)
    assert cfg.edm.teacher_floor > 0
    # ... and churn, which the probe leaves out: distillation teaches the deterministic ODE
    assert cfg.edm.teacher_churn > 0
    ode_steps = cfg.edm.distill_steps
    expected = []
    for index in range(2):
        batch = val.whole(index)
        inputs = ConditionInputs(content_fn(batch), batch.f0, batch.loudness, batch.singer, batch.key_shift)
        one = denormalize(student.sample(inputs, 1, seed=5), cfg.audio)
        ode = denormalize(teacher.sample_teacher(inputs, ode_steps, seed=5, churn=0.0), cfg.audio)
        expected.append(float((one - ode).abs().mean()))
    assert measured == pytest.approx(sum(expected) / 2, rel=1e-5)
    assert measured > 0.01  # a fresh student (= the teacher in one step) is far from the ODE solution

    # A student that reproduces the teacher's ODE solution for the same noise scores zero.
    assert gap(_TeacherOde(teacher, ode_steps)) == pytest.approx(0.0, abs=1e-6)
    assert gap(_TeacherOde(teacher, ode_steps - 1)) > 1e-4  # the paper grid's step count is another run
    assert gap(_TeacherOde(teacher, ode_steps, cfg.edm.teacher_churn)) > 1e-4  # so is the churned sampler


def test_student_run_reports_the_gap_at_start_and_at_checkpoints(trained, tmp_path):
    cache, teacher_path = trained
    lines = []
    summary = train_student(cache, teacher_path, tmp_path / "s.safetensors",
                            RunOptions(steps=2, checkpoint_every=2, progress=False, tensorboard=True),
                            log=lines.append)
    start, end = summary["validation_start"], summary["validation"]
    assert start["step"] == 0
    for figures in (start, end):
        assert math.isfinite(figures["val_to_teacher_l1"]) and figures["val_to_teacher_l1"] > 0
        assert math.isfinite(figures["val_consistency"]) and figures["val_consistency"] > 0
        assert "val_mel_l1" in figures
    assert end["val_to_teacher_l1"] != start["val_to_teacher_l1"]  # two steps moved the student
    assert any(line.startswith("student step 2 ") and "val_to_teacher_l1" in line for line in lines)
    assert any((tmp_path / "s.logs").iterdir())


@pytest.mark.slow  # ~8 s: a training command in a process of its own; the probe's figures are checked in-process above
def test_cli_prints_the_gap_from_start_to_end(trained, tmp_path):
    cache, teacher_path = trained
    result = subprocess.run([sys.executable, "-m", "cli.main", "train", "student", str(cache), "--teacher",
                             str(teacher_path), "--out", str(tmp_path / "s.safetensors"), "--steps", "2",
                             "--no-progress", "--no-tensorboard", "--threads", "1"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    summary_line = result.stdout.strip().splitlines()[-1]
    match = re.search(r"val_to_teacher_l1 ([0-9.]+) -> ([0-9.]+)", summary_line)
    assert match and float(match.group(1)) > 0 and float(match.group(2)) > 0


def test_validation_consistency_is_repeatable_and_grows_when_the_student_drifts(loaded):
    cfg, val, teacher, encoder = loaded
    probe = ValidationConsistency(val, cfg, lambda b: content_of(encoder, b), torch.device("cpu"))
    student, ema = make_student(teacher)
    student.train()
    first = probe(student, ema, teacher)
    assert student.training
    assert probe(student, ema, teacher) == first  # fixed crops, fixed noise, every link
    with torch.no_grad():
        for parameter in student.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    assert probe(student, ema, teacher) > 1.5 * first  # it compares the student with its target


def test_stratified_links_cover_distinct_links_and_stay_uniform():
    generator = torch.Generator().manual_seed(0)
    small = _stratified_links(16, 24, generator, "cpu")
    assert len(set(small.tolist())) == 16 and int(small.max()) < 24
    large = _stratified_links(50, 24, generator, "cpu")
    counts = torch.bincount(large, minlength=24)
    assert int(counts.min()) >= 2 and int(counts.max()) <= 3  # as even as 50 items over 24 links can be
    # Over many batches each link is drawn equally often, as with independent uniform draws.
    draws = torch.cat([_stratified_links(16, 24, generator, "cpu") for _ in range(3000)])
    share = torch.bincount(draws, minlength=24).float() / len(draws)
    assert float((share - 1 / 24).abs().max()) < 0.004
