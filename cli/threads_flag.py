"""`--threads` for the commands that run the live engine: torch threads of the engine's process.

One by default. On a machine with few cores, torch's intra-op threads wait for each other at
every small operation; while any other program holds a core, one of them is descheduled and
the whole block waits. On this project's 2-core machine, with one core busy elsewhere, a
`balanced` block took 3-5x longer with 2 threads than with 1 (BENCHMARKS.md, "One torch
thread for the engine").
"""

from __future__ import annotations

import argparse
import os

from core.errors import UserError

LIVE_TORCH_THREADS = 1
MAX_THREADS = 64


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=LIVE_TORCH_THREADS, metavar="N",
                        help=f"torch threads for the engine's models (default {LIVE_TORCH_THREADS}: more threads "
                        "wait on each other whenever another program is busy, and blocks arrive late)")


def check_threads(threads: int) -> None:
    """The range alone, without importing torch: for a check that comes before the devices'."""
    if not 1 <= int(threads) <= MAX_THREADS:
        raise UserError(f"--threads must be between 1 and {MAX_THREADS}, got {threads}")


def use_threads(threads: int) -> None:
    """Set this process's torch threads, and those of any engine process started from it."""
    check_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(int(threads))  # a spawned engine process starts with it
    import torch

    torch.set_num_threads(int(threads))
