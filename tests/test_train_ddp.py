import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from core.data.preprocess import preprocess
from tests.test_data_fixtures import make_corpus, micro_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, cache: str, out: str, report: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from core.train.teacher import RunOptions, train_teacher

    summary = train_teacher(cache, out, micro_config(),
                            RunOptions(steps=3, checkpoint_every=100, progress=False, tensorboard=False, device="cpu"),
                            log=lambda m: None)
    Path(report.format(rank=rank)).write_text(json.dumps(summary, default=float))


@pytest.mark.slow  # ~12 s: two training processes over gloo
def test_two_process_gloo_run_keeps_ranks_identical(tmp_path):
    root = make_corpus(tmp_path / "data", singers=2, files=3)
    cache = tmp_path / "cache"
    preprocess(root, cache, micro_config(), progress=False, log=lambda m: None)
    report = str(tmp_path / "rank{rank}.json")
    mp.spawn(_worker, args=(2, _free_port(), str(cache), str(tmp_path / "model.safetensors"), report), nprocs=2)
    summaries = [json.loads(Path(report.format(rank=r)).read_text()) for r in range(2)]
    for summary in summaries:
        assert summary["steps"] == 3
        assert summary["rank_weight_divergence"] == 0.0
    # The ranks drew different batches (seeded by rank), yet hold the same weights.
    assert summaries[0]["curve"] != summaries[1]["curve"]
    assert (tmp_path / "model.safetensors").exists()  # written once, by rank 0
    assert (tmp_path / "model.train-state.safetensors").exists()
