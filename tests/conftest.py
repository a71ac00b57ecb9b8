"""Shared test set-up: few torch threads (2-core machines), headless Qt, seeded RNGs, no stale JACK registry."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    torch.manual_seed(0)


def pytest_sessionstart(session):
    from tests.jack_shm import clear_stale_jack_registry

    clear_stale_jack_registry()  # earlier runs' killed test servers must not keep this run's from starting
