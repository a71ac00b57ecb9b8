"""Content encoders: audio -> frames of "what is sung", at the mel frame rate.

Every encoder offers the same small interface (`ContentEncoder`): a width
`dim` and `encode(audio_24k, n_frames) -> (n_frames, dim)`. Two kinds exist:

- "hubert": a HuBERT-base / ContentVec network imported once from a published
  checkpoint (`comosvc import-content`, see content_import.py); layer 12,
  768-d at 16 kHz / 20 ms, nearest-neighbour aligned to the mel frames.
- "builtin": the project's own small streaming encoder (content_builtin.py).

Both are stored as model files of kind "content-encoder" with their tensors
under the `content.` prefix, so the same tensors can also sit inside a
complete model file. Nothing here ever touches the network.
"""

from __future__ import annotations

import os
from typing import Any, Protocol, runtime_checkable

import torch

from core.checkpoint import load_model_file, save_model_file, split_prefix, with_prefix
from core.config import AudioConfig, Config
from core.errors import ModelFileError

CONTENT_KIND = "content-encoder"
CONTENT_PREFIX = "content"


@runtime_checkable
class ContentEncoder(Protocol):
    @property
    def dim(self) -> int: ...

    def encode(self, audio: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Mono 24 kHz audio (T,) -> (n_frames, dim) at the mel frame rate."""
        ...


def align_frames(features: torch.Tensor, n_frames: int, source_period: float, target_period: float) -> torch.Tensor:
    """Nearest-neighbour resampling in time of (frames, dim) features.

    Frame j of the source is centred at (j + 0.5) * source_period seconds and
    frame i of the target at (i + 0.5) * target_period (the mel front end's
    centring), so the nearest source frame is floor(target_centre / source_period).
    Frames past either end repeat the edge frame.
    """
    if features.shape[0] == 0:
        raise ValueError("no source frames to align")
    centres = (torch.arange(n_frames, dtype=torch.float64) + 0.5) * target_period
    index = torch.floor(centres / source_period).long().clamp_(0, features.shape[0] - 1)
    return features.index_select(0, index.to(features.device))


def encoder_from_tensors(tensors: dict[str, torch.Tensor], meta: dict[str, Any], audio_cfg: AudioConfig) -> ContentEncoder:
    """Build the encoder a content-encoder's (prefixed) tensors and metadata describe."""
    kind = meta.get("encoder")
    state = split_prefix(tensors, CONTENT_PREFIX)
    if kind == "hubert":
        from core.features.content_hubert import HubertContentEncoder, HubertNetwork, HubertShape

        network = HubertNetwork(HubertShape.from_json(meta["shape"]))
        _load_state(network, state)
        return HubertContentEncoder(network, audio_cfg.sample_rate, audio_cfg.hop_length, int(meta["sample_rate"]))
    if kind == "builtin":
        from core.features.content_builtin import BuiltinContentEncoder, BuiltinShape

        encoder = BuiltinContentEncoder(BuiltinShape.from_json(meta["shape"]), audio_cfg)
        _load_state(encoder.network, state)
        return encoder.eval()
    raise ModelFileError(f"unknown content encoder '{kind}' (this version knows 'hubert' and 'builtin')")


def _load_state(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ModelFileError(
            "content encoder tensors do not match its network: "
            f"missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}"
        )


def load_content_encoder(path: str | os.PathLike, audio_cfg: AudioConfig) -> ContentEncoder:
    """Load a content-encoder model file (safetensors only; never unpickles)."""
    tensors, meta = load_model_file(path, expect_kind=CONTENT_KIND)
    return encoder_from_tensors(tensors, meta, audio_cfg)


def save_content_encoder(path: str | os.PathLike, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write an encoder's state dict and metadata (must include "encoder") as a content-encoder file."""
    if "encoder" not in meta:
        raise ValueError("content encoder metadata needs an 'encoder' entry")
    save_model_file(path, with_prefix(state, CONTENT_PREFIX), {**meta, "kind": CONTENT_KIND})


def content_encoder_for(cfg: Config, path: str | os.PathLike | None = None) -> ContentEncoder:
    """The encoder a config asks for: a model file if given, else a fresh (untrained) built-in one.

    A "contentvec" config has no built-in weights: it needs the file made by
    `comosvc import-content`. The file's width must match cfg.features.content_dim.
    """
    from core.errors import UserError

    if path is not None:
        encoder = load_content_encoder(path, cfg.audio)
    elif cfg.features.content_encoder == "builtin":
        from core.features.content_builtin import BuiltinContentEncoder

        return BuiltinContentEncoder.from_config(cfg)
    else:
        raise UserError(
            f"the '{cfg.name}' config uses the {cfg.features.content_encoder} content encoder: convert your "
            "checkpoint once with 'comosvc import-content FILE --out ENCODER.safetensors' and pass that file"
        )
    if encoder.dim != cfg.features.content_dim:
        raise UserError(
            f"content encoder {path} gives {encoder.dim}-d codes but the '{cfg.name}' config expects "
            f"{cfg.features.content_dim}"
        )
    return encoder
