"""Save and load a whole CoMoSVC Live model as one file (core.checkpoint, kind "model").

Tensors are grouped by part under a prefix: "teacher.", "student." (acoustic
models, this module) and, added by their owners through `extra_parts` /
`extra_metadata`, "content." (content encoder) and "vocoder.". The metadata
holds:

    kind              "model"
    acoustic_format   version of the acoustic parts' layout (ACOUSTIC_FORMAT)
    config            Config.to_dict() (model.n_singers = number of singers)
    singers           singer names in id order
    features          cfg.features as a dict (the settings the inputs were made with)
    parts             the prefixes present, e.g. ["student", "teacher", "vocoder"]
    <part>            optional per-part metadata from its owner (e.g. "vocoder": {...})

Loading checks every acoustic tensor's name and shape against the config, so a
file for another size or a damaged file is a clear ModelFileError, not a crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch

from core.checkpoint import load_model_file, save_model_file, split_prefix, with_prefix
from core.config import Config, from_stored_dict
from core.errors import ConfigError, ModelFileError
from core.features.singers import SingerTable
from core.model.acoustic import AcousticModel

MODEL_KIND = "model"
ACOUSTIC_FORMAT = 1
ACOUSTIC_PARTS = ("teacher", "student")


@dataclass
class ModelBundle:
    """What a model file holds: the config, singers, acoustic models and any other parts' tensors."""

    config: Config
    singers: SingerTable
    teacher: AcousticModel | None = None
    student: AcousticModel | None = None
    extra_parts: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def generator(self) -> AcousticModel:
        """The model used for conversion: the student if present, else the teacher."""
        model = self.student if self.student is not None else self.teacher
        if model is None:
            raise ModelFileError("the model file holds no acoustic model (neither student nor teacher)")
        return model


def save_model(
    path: str | os.PathLike,
    config: Config,
    singers: SingerTable | Iterable[str],
    teacher: AcousticModel | None = None,
    student: AcousticModel | None = None,
    extra_parts: dict[str, dict[str, torch.Tensor]] | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> None:
    """Write one model file atomically. extra_parts: {"vocoder": state_dict, ...} (unprefixed)."""
    table = singers if isinstance(singers, SingerTable) else SingerTable(singers)
    config = config.replace({"model.n_singers": len(table.names)})
    tensors: dict[str, torch.Tensor] = {}
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for name, model in (("teacher", teacher), ("student", student)):
        if model is not None:
            if model.conditioner.n_singers != len(table.names):
                raise ValueError(f"{name} has {model.conditioner.n_singers} singers but {len(table.names)} names were given")
            parts[name] = model.state_dict()
    for name, state in (extra_parts or {}).items():
        if name in ACOUSTIC_PARTS or "." in name:
            raise ValueError(f"'{name}' is not a valid extra part name")
        parts[name] = state
    for name, state in parts.items():
        tensors.update(with_prefix(state, name))
    metadata: dict[str, Any] = dict(extra_metadata or {})
    reserved = {"kind", "acoustic_format", "config", "singers", "features", "parts", "format_version"}
    if reserved & metadata.keys():
        raise ValueError(f"extra metadata may not set {sorted(reserved & metadata.keys())}")
    metadata.update(
        kind=MODEL_KIND,
        acoustic_format=ACOUSTIC_FORMAT,
        config=config.to_dict(),
        singers=table.to_json(),
        features=config.to_dict()["features"],
        parts=sorted(parts),
    )
    save_model_file(path, tensors, metadata)


def replace_part(path: str | os.PathLike, out_path: str | os.PathLike, name: str, state: dict[str, torch.Tensor],
                 part_metadata: dict[str, Any] | None = None) -> None:
    """Copy the model file at `path` to `out_path` (may be the same path; atomic) with part `name`'s tensors
    replaced by `state` (unprefixed) and, if given, its metadata entry by `part_metadata`; all else is kept."""
    tensors, meta = load_model_file(path, expect_kind=MODEL_KIND)
    kept = {key: t for key, t in tensors.items() if not key.startswith(name + ".")}
    kept.update(with_prefix(state, name))
    meta = {key: value for key, value in meta.items() if key != "format_version"}  # save_model_file writes its own
    meta["parts"] = sorted(set(meta.get("parts", [])) | {name})
    if part_metadata is not None:
        meta[name] = part_metadata
    save_model_file(out_path, kept, meta)


def load_model(path: str | os.PathLike, parts: Iterable[str] | None = None) -> ModelBundle:
    """Read a model file; `parts` limits which acoustic models are built (default: all present)."""
    tensors, meta = load_model_file(path, expect_kind=MODEL_KIND)
    if meta.get("acoustic_format") != ACOUSTIC_FORMAT:
        raise ModelFileError(
            f"{path} has acoustic model format {meta.get('acoustic_format')}; this version reads {ACOUSTIC_FORMAT}"
        )
    try:
        config = from_stored_dict(meta["config"])
        singers = SingerTable(meta["singers"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise ModelFileError(f"{path} has unreadable model metadata: {exc}") from None
    if config.model.n_singers != len(singers.names):
        raise ModelFileError(f"{path} lists {len(singers.names)} singers but its config says {config.model.n_singers}")
    present = set(meta.get("parts", []))
    wanted = set(ACOUSTIC_PARTS) & present if parts is None else set(parts)
    bundle = ModelBundle(config=config, singers=singers, metadata=meta)
    for name in ACOUSTIC_PARTS:
        if name in wanted:
            if name not in present:
                raise ModelFileError(f"{path} holds no {name} model (parts: {', '.join(sorted(present)) or 'none'})")
            setattr(bundle, name, _build_acoustic(path, name, config, len(singers.names), split_prefix(tensors, name)))
    for name in present - set(ACOUSTIC_PARTS):
        bundle.extra_parts[name] = split_prefix(tensors, name)
    return bundle


def _build_acoustic(
    path: str | os.PathLike, name: str, config: Config, n_singers: int, state: dict[str, torch.Tensor]
) -> AcousticModel:
    model = AcousticModel.from_config(config, n_singers)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: the {name} model does not match its config "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''})"
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise ModelFileError(
                f"{path}: {name}.{key} has shape {tuple(tensor.shape)}, the config needs {tuple(expected[key].shape)}"
            )
    model.load_state_dict(state)
    return model.eval()
