"""Vocoder model files (kind "vocoder") and vocoders embedded in whole-model files.

A vocoder file holds the vocoder's state dict and metadata {"kind": "vocoder",
"vocoder": {...}} where the inner dict names the architecture and everything
needed to rebuild it. A whole-model file embeds the same tensors under the
prefix "vocoder." and the same inner dict under its metadata's "vocoder" key;
`load_vocoder_file` reads the vocoder from either.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from core.checkpoint import load_model_file, read_metadata, save_model_file, split_prefix
from core.errors import ModelFileError
from core.vocoder.base import Vocoder

KIND = "vocoder"
PREFIX = "vocoder"


def vocoder_parts(vocoder: Vocoder) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, metadata) of a trainable or imported vocoder."""
    if not hasattr(vocoder, "state_dict") or not hasattr(vocoder, "metadata"):
        raise ModelFileError(f"the '{vocoder.name}' vocoder has no weights to save")
    return vocoder.state_dict(), vocoder.metadata()


def save_vocoder(path: str | os.PathLike, vocoder: Vocoder, extra: dict[str, Any] | None = None) -> None:
    state, meta = vocoder_parts(vocoder)
    save_model_file(path, state, {"kind": KIND, "vocoder": meta, **(extra or {})})


def embed_vocoder(vocoder: Vocoder) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, metadata) to embed in a whole-model file.

    Made for core.model.model_file.save_model: pass the state as
    `extra_parts={"vocoder": state}` (it adds the "vocoder." prefix) and the
    metadata as `extra_metadata={"vocoder": metadata}`.
    """
    return vocoder_parts(vocoder)


def vocoder_from_parts(state: dict[str, torch.Tensor], meta: dict[str, Any]) -> Vocoder:
    architecture = meta.get("architecture")
    if architecture == "builtin-hn":
        from core.vocoder.builtin import BuiltinVocoder

        return BuiltinVocoder.from_state(state, meta)
    if architecture == "nsf-hifigan":
        from core.vocoder.nsf_hifigan import NsfHifiganVocoder

        return NsfHifiganVocoder.from_state(state, meta)
    raise ModelFileError(f"unknown vocoder architecture {architecture!r}")


def load_vocoder_file(path: str | os.PathLike) -> Vocoder:
    """A vocoder file, or the vocoder embedded in a whole-model file."""
    tensors, meta = load_model_file(path)
    if meta.get("kind") == KIND:
        return vocoder_from_parts(tensors, meta.get("vocoder", {}))
    if isinstance(meta.get("vocoder"), dict) and any(k.startswith(PREFIX + ".") for k in tensors):
        return vocoder_from_parts(split_prefix(tensors, PREFIX), meta["vocoder"])
    raise ModelFileError(f"{path} holds a '{meta.get('kind')}' with no vocoder in it")


def replace_model_vocoder(model_path: str | os.PathLike, vocoder: Vocoder, out_path: str | os.PathLike) -> None:
    """Write a copy of the complete model file at `model_path` with `vocoder` in place of its own (atomic).

    Every other tensor and metadata entry is copied unchanged. The vocoder must work at the model's
    sample rate, hop and mel count (a vocoder for another front end would get mels it cannot read).
    """
    from core.config import from_stored_dict
    from core.model.model_file import replace_part

    meta = read_metadata(model_path, expect_kind="model")
    if not isinstance(meta.get("vocoder"), dict):
        raise ModelFileError(f"{model_path} holds no vocoder: it is a training stage's file, not a complete model")
    audio = from_stored_dict(meta["config"]).audio
    if not vocoder.fits(audio):
        raise ModelFileError(
            f"the vocoder works at {vocoder.sample_rate} Hz / hop {vocoder.hop_length} / {vocoder.n_mels} mels, "
            f"{model_path} at {audio.sample_rate} / {audio.hop_length} / {audio.n_mels}"
        )
    state, vocoder_meta = vocoder_parts(vocoder)
    replace_part(model_path, out_path, PREFIX, state, vocoder_meta)
