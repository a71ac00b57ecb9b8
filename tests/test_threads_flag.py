"""--threads: the live commands' torch threads, in this process and in an engine process spawned from it."""

from __future__ import annotations

import multiprocessing
import os

import pytest
import torch

from cli.main import main
from cli.threads_flag import LIVE_TORCH_THREADS, use_threads


@pytest.fixture()
def restore_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", ""))
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _child_threads(queue) -> None:
    import torch as child_torch

    queue.put(child_torch.get_num_threads())


def test_an_engine_process_spawned_afterwards_starts_with_the_same_threads(restore_threads):
    use_threads(1)
    assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    context = multiprocessing.get_context("spawn")  # how the GUI and `latency` start the engine's process
    queue = context.Queue()
    child = context.Process(target=_child_threads, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=60) == 1
    finally:
        child.join(timeout=30)


def test_simulate_runs_on_the_live_default(restore_threads, tmp_path, capsys):
    import numpy as np

    from core.audio.io import save_audio

    torch.set_num_threads(2)
    t = np.arange(24000) / 24000.0
    save_audio(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 24000)
    assert main(["simulate", str(tmp_path / "tone.wav"), "--model", "stand-in", "--json"]) == 0
    assert torch.get_num_threads() == LIVE_TORCH_THREADS


@pytest.mark.parametrize("command", [["simulate", "in.wav"], ["live"], ["gui"], ["latency"]])
def test_an_impossible_thread_count_is_one_line(command, capsys, restore_threads):
    assert main([*command, "--threads", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--threads must be between 1 and 64" in err
