"""The model file format: one safetensors file per model.

Tensors are stored under their state-dict names with a prefix per part
(e.g. `student.`, `vocoder.`, `content.`). The metadata (string -> string in
safetensors) holds one key, `comosvc`, whose value is JSON with at least:

    {"format_version": 1, "kind": "...", ...}

`kind` says what the file holds ("model", "vocoder", "content-encoder", ...);
the rest (config, singer names, feature settings) is up to the kind.

Loading never unpickles. Writing is atomic: the file is written to a temporary
name in the same folder, fsynced, then renamed over the target, so a crash never
leaves a half-written file under the real name.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from core.errors import ModelFileError

FORMAT_VERSION = 1
METADATA_KEY = "comosvc"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call `write(tmp_path)`, fsync, then rename tmp_path over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved file gets the usual permissions
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_model_file(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write tensors and JSON metadata to a safetensors file, atomically."""
    meta = {"format_version": FORMAT_VERSION, **metadata}
    # safetensors refuses shared or non-contiguous storage; store plain copies.
    plain = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    header = {METADATA_KEY: json.dumps(meta)}
    atomic_write(path, lambda tmp: save_file(plain, tmp, metadata=header))


def read_metadata(path: str | os.PathLike, expect_kind: str | None = None) -> dict[str, Any]:
    """The JSON metadata of a model file, without loading its tensors; ModelFileError if not of `expect_kind`."""
    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        if looks_like_pickle(path):
            raise ModelFileError(
                f"{path} is a PyTorch pickle checkpoint, not a CoMoSVC Live model file (never unpickled here); "
                "convert it once with 'comosvc import-model' (an official CoMoSVC checkpoint), "
                "'comosvc import-vocoder' (NSF-HiFiGAN) or 'comosvc import-content' (ContentVec / HuBERT)"
            ) from None
        raise ModelFileError(f"{path} is not a readable model file (truncated or corrupt): {exc}") from None
    meta = _check_metadata(path, header)
    if expect_kind is not None and meta.get("kind") != expect_kind:
        raise ModelFileError(f"{path} holds a '{meta.get('kind')}', not a '{expect_kind}'")
    return meta


def looks_like_pickle(path: str | os.PathLike) -> bool:
    """True for torch.save output: a zip archive (PK..) or a bare pickle (protocol 2+ starts with 0x80)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head == b"PK\x03\x04" or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


def load_model_file(
    path: str | os.PathLike, expect_kind: str | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load (tensors, metadata) from a model file; clear errors for anything wrong."""
    meta = read_metadata(path, expect_kind)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path} is truncated or corrupt: {exc}") from None
    return tensors, meta


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    return path


def _check_metadata(path: Path, header: dict[str, str]) -> dict[str, Any]:
    if METADATA_KEY not in header:
        raise ModelFileError(
            f"{path} is a safetensors file but not a CoMoSVC Live model file (no '{METADATA_KEY}' metadata)"
        )
    try:
        meta = json.loads(header[METADATA_KEY])
    except json.JSONDecodeError:
        raise ModelFileError(f"{path} has corrupt metadata") from None
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} is model format version {version}; this version of CoMoSVC Live reads version {FORMAT_VERSION}"
        )
    return meta


def split_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under `prefix.` with the prefix removed (one part's state dict)."""
    start = prefix + "."
    return {name[len(start):]: t for name, t in tensors.items() if name.startswith(start)}


def with_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{name}": t for name, t in state.items()}
