"""Random fixed-length crops of cached clips (cache.py), batched for training.

All clips of a split are held in memory (a cache is features, not audio: about
0.1 MB per second of singing with the built-in encoder). Randomness comes only
from the torch.Generator passed in, so a resumed run draws the same batches.
Clips shorter than the crop are zero-padded and masked out of the loss.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import torch

from core.data.cache import load_clip, read_manifest
from core.errors import UserError
from core.features.singers import SingerTable

PAD_LOG_MEL = -5.0  # log10 of the mel clamp: silence


@dataclass
class Batch:
    mel: torch.Tensor  # (B, n_mels, T) log10 mel (the target)
    f0: torch.Tensor  # (B, T) Hz
    loudness: torch.Tensor  # (B, T)
    singer: torch.Tensor  # (B,) long
    key_shift: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, T) 1 for real frames
    content: torch.Tensor | None = None  # (B, T, D) frozen content code
    mel_perturbed: torch.Tensor | None = None  # (B, n_mels, T) encoder input (built-in encoder)

    def to(self, device: torch.device) -> "Batch":
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in moved.items()})


@dataclass
class _Clip:
    mel: torch.Tensor
    f0: torch.Tensor
    loudness: torch.Tensor
    key_shift: float
    singer: int
    content: torch.Tensor | None
    mel_perturbed: torch.Tensor | None
    id: str

    @property
    def frames(self) -> int:
        return int(self.mel.shape[-1])


class CachedDataset:
    """The clips of one split; `split="train"` includes the augmentation copies."""

    def __init__(self, root: str | os.PathLike, split: str = "train", originals_only: bool = False) -> None:
        self.manifest = read_manifest(root)
        self.singers = SingerTable(self.manifest["singers"])
        self.content_kind = self.manifest["content"]
        chosen = [c for c in self.manifest["clips"] if c["split"] == split
                  and (not originals_only or c["augment"] == "none")]
        self.clips = []
        for record in chosen:
            data = load_clip(os.path.join(root, record["file"]))
            self.clips.append(_Clip(
                mel=torch.from_numpy(data.mel), f0=torch.from_numpy(data.f0),
                loudness=torch.from_numpy(data.loudness), key_shift=data.key_shift,
                singer=self.singers.id(record["singer"]),
                content=None if data.content is None else torch.from_numpy(data.content),
                mel_perturbed=None if data.mel_perturbed is None else torch.from_numpy(data.mel_perturbed),
                id=record["id"]))

    def __len__(self) -> int:
        return len(self.clips)

    def require(self, what: str) -> None:
        if not self.clips:
            raise UserError(f"the feature cache has no {what} clips; preprocess more audio")

    def batch(self, batch_size: int, crop_frames: int, generator: torch.Generator) -> Batch:
        self.require("training")
        picks = torch.randint(len(self.clips), (batch_size,), generator=generator).tolist()
        return collate([self.clips[i] for i in picks], crop_frames, generator)

    def whole(self, index: int) -> Batch:
        """One clip, uncropped, as a batch of one (validation)."""
        clip = self.clips[index]
        return collate([clip], clip.frames, torch.Generator().manual_seed(index))


def collate(clips: list[_Clip], crop: int, generator: torch.Generator) -> Batch:
    n_mels = clips[0].mel.shape[0]
    b = len(clips)
    mel = torch.full((b, n_mels, crop), PAD_LOG_MEL)
    f0, loud, mask = torch.zeros(b, crop), torch.zeros(b, crop), torch.zeros(b, crop)
    content = torch.zeros(b, crop, clips[0].content.shape[1]) if clips[0].content is not None else None
    perturbed = torch.full((b, n_mels, crop), PAD_LOG_MEL) if clips[0].mel_perturbed is not None else None
    for i, clip in enumerate(clips):
        length = min(crop, clip.frames)
        start = int(torch.randint(clip.frames - length + 1, (), generator=generator))
        span = slice(start, start + length)
        mel[i, :, :length] = clip.mel[:, span]
        f0[i, :length], loud[i, :length], mask[i, :length] = clip.f0[span], clip.loudness[span], 1.0
        if content is not None:
            content[i, :length] = clip.content[span]
        if perturbed is not None:
            copy = int(torch.randint(clip.mel_perturbed.shape[0], (), generator=generator))
            perturbed[i, :, :length] = clip.mel_perturbed[copy][:, span]
    return Batch(mel=mel, f0=f0, loudness=loud, singer=torch.tensor([c.singer for c in clips]),
                 key_shift=torch.tensor([c.key_shift for c in clips], dtype=torch.float32), mask=mask,
                 content=content, mel_perturbed=perturbed)
