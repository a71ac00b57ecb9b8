"""Training checkpoints: everything --resume needs to continue exactly, with no pickles.

One safetensors file (core.checkpoint, kind "train-state"), written atomically
(temp file, fsync, rename), so a kill at any moment leaves the previous file
intact. Tensors:

    module.<name>.<param>               every module's state dict (model, EMA, encoder, ...)
    optim.<name>.<param index>.<key>    optimiser per-parameter state tensors (AdamW's exp_avg, ...)
    rng.<name>                          torch.Generator states (uint8), and rng.torch_global

The JSON metadata holds the step, optimiser param_groups and scalar state,
and free-form `extra` (e.g. the config, the singer names).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from core.checkpoint import load_model_file, save_model_file, split_prefix
from core.errors import ModelFileError

STATE_KIND = "train-state"


@dataclass
class TrainState:
    step: int
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _plain_module(module: nn.Module) -> nn.Module:
    return getattr(module, "module", module)  # DDP wrapper -> the model


def save_state(path: str | os.PathLike, state: TrainState) -> None:
    tensors: dict[str, torch.Tensor] = {}
    optim_meta: dict[str, Any] = {}
    for name, module in state.modules.items():
        for key, value in _plain_module(module).state_dict().items():
            tensors[f"module.{name}.{key}"] = value.detach().cpu()
    for name, optimizer in state.optimizers.items():
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, per_param in sd["state"].items():
            for key, value in per_param.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.{name}.{index}.{key}"] = value.detach().cpu()
                else:
                    scalars.setdefault(str(index), {})[key] = value
        optim_meta[name] = {"param_groups": sd["param_groups"], "scalars": scalars,
                            "indices": [int(i) for i in sd["state"]]}
    for name, generator in state.generators.items():
        tensors[f"rng.{name}"] = generator.get_state()
    tensors["rng.torch_global"] = torch.get_rng_state()
    save_model_file(path, tensors, {"kind": STATE_KIND, "step": state.step, "optimizers": optim_meta,
                                    "extra": state.extra})


def recorded_extra(path: str | os.PathLike) -> dict[str, Any] | None:
    """The `extra` a train-state file records, read without loading its tensors; None if there is no file.

    --resume checks it against the run's own settings before anything is loaded."""
    from core.checkpoint import read_metadata

    if not os.path.exists(path):
        return None
    return read_metadata(path, expect_kind=STATE_KIND).get("extra", {})


def load_state(path: str | os.PathLike, state: TrainState) -> TrainState:
    """Fill `state`'s modules, optimisers and generators from the file; returns it with step and extra set."""
    tensors, meta = load_model_file(path, expect_kind=STATE_KIND)
    try:
        for name, module in state.modules.items():
            _plain_module(module).load_state_dict(split_prefix(tensors, f"module.{name}"))
        for name, optimizer in state.optimizers.items():
            info = meta["optimizers"][name]
            per_param: dict[int, dict[str, Any]] = {}
            for index in info["indices"]:
                entry = dict(info["scalars"].get(str(index), {}))
                entry.update(split_prefix(tensors, f"optim.{name}.{index}"))
                per_param[index] = entry
            optimizer.load_state_dict({"state": per_param, "param_groups": info["param_groups"]})
        for name, generator in state.generators.items():
            generator.set_state(tensors[f"rng.{name}"])
        torch.set_rng_state(tensors["rng.torch_global"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{path} does not match this training run ({str(exc).splitlines()[0]})") from None
    state.step = int(meta["step"])
    state.extra = meta.get("extra", {})
    return state
