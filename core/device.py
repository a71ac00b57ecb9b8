"""Which torch device runs the models: one parser for every command's `--device`.

Names: "cpu", "cuda" (the current GPU), "cuda:N", or "auto" (CUDA when torch
sees a GPU, else the CPU). Conversion, live use and the benches default to the
CPU: with the default model a live block costs the same on an H200 as on its
CPU, because the small network is launch-bound and the rest of a block is CPU
work (BENCHMARKS.md "On a GPU"), so a GPU is used only when asked for. Training
keeps "auto": there a GPU ran about 40 times this project's CPU's steps per second.
Anything torch cannot reach here is a UserError with one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import UserError

if TYPE_CHECKING:  # torch is imported where a device is resolved: the CLI's help must not wait for it
    import torch

DEFAULT_DEVICE = "cpu"   # conversion, live, GUI, simulate, vocode, benches
TRAIN_DEVICE = "auto"    # training
DEVICE_HELP = "auto (CUDA when present), cpu, cuda or cuda:N"


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """The torch.device `name` stands for (None: DEFAULT_DEVICE), or a UserError saying why not."""
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    text = (DEFAULT_DEVICE if name is None else str(name)).strip().lower()
    if text == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise UserError(f"unknown device '{name}' (use {DEVICE_HELP})") from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise UserError(f"device '{name}' is not supported (use {DEVICE_HELP})")
    if not torch.cuda.is_available():
        raise UserError(f"device '{name}' asked for but torch sees no CUDA GPU here (use --device cpu)")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise UserError(f"device '{name}' does not exist: torch sees {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    return device


def device_choices() -> list[str]:
    """The names worth offering in a menu on this machine (the GUI's list)."""
    import torch

    names = ["cpu", "auto"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return names
