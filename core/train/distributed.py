"""Device choice and DistributedDataParallel set-up.

Under torchrun (WORLD_SIZE > 1 in the environment) every process joins one
group: NCCL on GPUs, gloo on CPU. Each rank draws its own batches (seeded by
rank); DDP averages gradients, so all ranks hold identical weights. Only rank
0 writes checkpoints, logs and the final model file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    amp: bool = False  # bfloat16 autocast, CUDA only

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def autocast(self):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.amp)

    def wrap(self, module: nn.Module) -> nn.Module:
        if not self.distributed:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def pick_device(name: str = "auto") -> torch.device:
    """The training device (the one parser for every --device: core.device)."""
    from core.device import resolve_device

    return resolve_device(name)


def setup_runtime(device: str = "auto", amp: bool = False) -> Runtime:
    """Join the torchrun group if there is one; pick the device (one GPU per local rank)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        chosen = pick_device(device)
        return Runtime(chosen, amp=amp and chosen.type == "cuda")
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local)
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return Runtime(chosen, rank, world, amp=amp and chosen.type == "cuda")


def teardown(runtime: Runtime) -> None:
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


@torch.no_grad()
def weight_divergence(module: nn.Module, runtime: Runtime) -> float:
    """Largest absolute difference between this rank's parameters and rank 0's, over all ranks (0.0 = in sync)."""
    if not runtime.distributed:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1).float() for p in module.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, 0)
    diff = (flat - reference).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff)
