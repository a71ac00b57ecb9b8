"""A model file cut down to some of its singers (`comosvc keep-singers`).

Everything in a model but the singer-indexed parts is shared by all singers, so dropping a singer
is exact: the kept singers convert as they did, sample for sample. That makes it possible to train
with voices that should teach the network (real recordings for the content encoder, say) without
offering them as targets. Singer-indexed parts: the singer table of each acoustic model, one
retrieval table per singer, and the singers' F0 medians for auto-transpose.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from core.checkpoint import load_model_file, save_model_file
from core.convert.voice_model import SINGER_F0_KEY
from core.errors import UserError
from core.model.model_file import ACOUSTIC_PARTS, MODEL_KIND
from core.model.singer_transfer import SINGER_TABLE_KEY

RETRIEVAL_PREFIX = "retrieval."


def _check_known(names: Sequence[str], asked: Sequence[str]) -> None:
    unknown = [name for name in asked if name not in names]
    if unknown:
        raise UserError(f"the model has no singer {', '.join(unknown)} (it has {', '.join(names)})")


def keep_singers(tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: Sequence[str],
                 ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Copies of a model file's tensors and metadata holding only the singers `keep`, in that order."""
    names = list(meta.get("singers") or [])
    _check_known(names, keep)
    if not keep or len(set(keep)) != len(keep):
        raise UserError("name each singer to keep once, at least one")
    rows = torch.tensor([names.index(name) for name in keep])
    result = {}
    for key, tensor in tensors.items():
        if any(key == f"{part}.{SINGER_TABLE_KEY}" for part in ACOUSTIC_PARTS):
            result[key] = tensor[rows].clone()
        elif key.startswith(RETRIEVAL_PREFIX):
            old = int(key[len(RETRIEVAL_PREFIX):])
            if names[old] in keep:
                result[f"{RETRIEVAL_PREFIX}{keep.index(names[old])}"] = tensor
        else:
            result[key] = tensor
    new_meta = dict(meta)
    new_meta["singers"] = list(keep)
    config = dict(new_meta["config"])
    config["model"] = {**config["model"], "n_singers": len(keep)}
    new_meta["config"] = config
    if SINGER_F0_KEY in meta:
        new_meta[SINGER_F0_KEY] = {name: hz for name, hz in meta[SINGER_F0_KEY].items() if name in keep}
    return result, new_meta


def write_singer_subset(path: str | os.PathLike, out: str | os.PathLike, singers: Sequence[str],
                        drop: bool = False) -> tuple[list[str], list[str]]:
    """Write to `out` the model at `path` with only `singers` (with `drop`: all but them, in the model's
    order); returns the singers kept and those dropped."""
    tensors, meta = load_model_file(path, expect_kind=MODEL_KIND)
    if drop:
        _check_known(meta["singers"], singers)
    keep = [name for name in meta["singers"] if name not in singers] if drop else list(singers)
    subset, new_meta = keep_singers(tensors, meta, keep)
    new_meta.pop("format_version", None)  # save_model_file writes the current one
    save_model_file(out, subset, new_meta)
    return keep, [name for name in meta["singers"] if name not in keep]
