"""Build a model's feature-retrieval index (core.features.retrieval) from its training cache.

The index holds, per singer, k-means centroids of the content codes of that singer's
training frames, computed with the model file's own content encoder (so it matches what
conversion computes). Copies whose spectrum was shifted (key augmentation) or only
re-gained (volume) are left out: they would add another timbre, or nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from core.data.cache import load_clip, read_manifest
from core.errors import UserError
from core.features.retrieval import CODES_PER_SINGER, RETRIEVAL_PART, SingerIndex
from core.model.model_file import replace_part

_SKIPPED_COPIES = ("key", "volume")


def singer_codes(model, cache_dir: str | os.PathLike) -> list[torch.Tensor]:
    """(frames, dim) content codes of each of the model's singers, from the cache's training clips."""
    manifest = read_manifest(cache_dir)
    names = list(model.singers.names)
    missing = sorted(set(names) - set(manifest.get("singers", [])))
    if missing:
        raise UserError(f"the cache {cache_dir} has no clips of the model's singer(s) {', '.join(missing)}")
    codes: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    encoder = model.content_encoder
    for entry in manifest.get("clips", []):
        if entry.get("split") != "train" or entry.get("augment") in _SKIPPED_COPIES or entry["singer"] not in codes:
            continue
        clip = load_clip(Path(cache_dir) / entry["file"])
        if clip.content is not None:
            frames = torch.from_numpy(clip.content).float()
        elif hasattr(encoder, "forward_mel"):
            with torch.no_grad():
                frames = encoder.forward_mel(torch.from_numpy(clip.mel)[None].to(model.device))[0].cpu()
        else:
            raise UserError(f"the cache {cache_dir} holds no content codes and the model's encoder reads audio only")
        if frames.shape[-1] != encoder.dim:
            raise UserError(f"the cache {cache_dir} holds {frames.shape[-1]}-d content, the model {encoder.dim}-d")
        codes[entry["singer"]].append(frames)
    empty = [name for name, found in codes.items() if not found]
    if empty:
        raise UserError(f"the cache {cache_dir} has no training clips of {', '.join(empty)}")
    return [torch.cat(codes[name]) for name in names]


def write_index(model_path: str | os.PathLike, index: SingerIndex, out_path: str | os.PathLike) -> None:
    """Copy the model file to `out_path` (may be the same path) with `index` as its retrieval part."""
    replace_part(model_path, out_path, RETRIEVAL_PART, index.file_part())


def add_index(model_path: str | os.PathLike, cache_dir: str | os.PathLike, out_path: str | os.PathLike | None = None,
              count: int = CODES_PER_SINGER, seed: int = 0) -> SingerIndex:
    """Build the index of the model at `model_path` from `cache_dir` and write it into `out_path` (default: in place)."""
    from core.convert.voice_model import VoiceModel

    if count < 1:
        raise UserError(f"the index needs at least 1 code per singer, got {count}")
    model = VoiceModel.load(model_path)
    index = SingerIndex.build(singer_codes(model, cache_dir), count, seed)
    write_index(model.path, index, out_path or model.path)
    return index
