"""Shared by the student-distillation tests: a two-singer micro cache, a teacher trained on it, run options.

Import the fixtures by name (`from tests.student_fixtures import cache, teacher`); each test module
then builds its own (module scope).
"""

import pytest

from core.data.preprocess import preprocess
from core.train.teacher import RunOptions, train_teacher
from tests.test_data_fixtures import make_corpus, micro_config


def run_options(steps: int, **kw) -> RunOptions:
    return RunOptions(steps=steps, checkpoint_every=kw.pop("every", 2), log_every=1, progress=False,
                      tensorboard=False, **kw)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("data"), singers=2, files=4)
    out = tmp_path_factory.mktemp("cache")
    preprocess(root, out, micro_config(), progress=False, log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def teacher(cache, tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.safetensors"
    train_teacher(cache, path, micro_config(), run_options(2), log=lambda m: None)
    return path
