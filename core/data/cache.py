"""The on-disk feature cache that `comosvc preprocess` writes and training reads.

Layout of OUT:

    OUT/manifest.json             the index (below); written atomically after every source file
    OUT/clips/<singer>/<clip>.npz one file per clip and per augmentation copy

Each .npz holds named arrays at the mel frame rate (24000 / 128 Hz), T frames:

    mel        float32 (n_mels, T)  log10 mel of the clip (MelSpectrogram; the key-shifted
                                    mel for a key-shift copy, the gained audio's for a volume copy)
    f0         float32 (T,)         Hz, unvoiced gaps linearly interpolated (the paper's offline path)
    voiced     bool    (T,)
    loudness   float32 (T,)         frame RMS (core.features.loudness)
    key_shift  float32 ()           semitones the spectrum of this copy was shifted by (0 for originals
                                    and range copies, whose formants stay where they were)
    content    float32 (T, D)       only with a frozen content encoder (e.g. imported ContentVec)
    mel_perturbed float32 (P, n_mels, T)  only with the built-in encoder: log10 mel of P
                                    perturbed versions of the (unshifted) clip (formant, pitch, EQ),
                                    what the encoder is trained on jointly with the teacher

manifest.json:

    format_version, sample_rate, hop_length, n_mels, content ("builtin" or "frozen"),
    content_dim, singers [names in id order],
    clips: [{id, singer, split ("train"|"val"), file (relative to OUT), frames,
             augment ("none"|"key"|"volume"|"range_up"|"range_down"), key_shift, gain_db,
             f0_shift (semitones the F0 moved: key and range copies), source}],
    sources: {relative source path: {size, mtime, clips: [ids], skipped: reason|null}},
    skipped: [{path, reason}]
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.checkpoint import atomic_write
from core.errors import UserError

CACHE_FORMAT = 1
MANIFEST = "manifest.json"


@dataclass
class ClipFeatures:
    mel: np.ndarray
    f0: np.ndarray
    voiced: np.ndarray
    loudness: np.ndarray
    key_shift: float = 0.0
    content: np.ndarray | None = None
    mel_perturbed: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return int(self.mel.shape[-1])


def save_clip(path: str | os.PathLike, clip: ClipFeatures) -> None:
    arrays: dict[str, np.ndarray] = {
        "mel": clip.mel.astype(np.float32),
        "f0": clip.f0.astype(np.float32),
        "voiced": clip.voiced.astype(bool),
        "loudness": clip.loudness.astype(np.float32),
        "key_shift": np.float32(clip.key_shift),
    }
    if clip.content is not None:
        arrays["content"] = clip.content.astype(np.float32)
    if clip.mel_perturbed is not None:
        arrays["mel_perturbed"] = clip.mel_perturbed.astype(np.float32)

    def write(tmp: str) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        Path(tmp).write_bytes(buffer.getvalue())

    atomic_write(path, write)


def load_clip(path: str | os.PathLike) -> ClipFeatures:
    try:
        with np.load(str(path), allow_pickle=False) as data:
            return ClipFeatures(
                mel=data["mel"], f0=data["f0"], voiced=data["voiced"], loudness=data["loudness"],
                key_shift=float(data["key_shift"]),
                content=data["content"] if "content" in data else None,
                mel_perturbed=data["mel_perturbed"] if "mel_perturbed" in data else None,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(f"feature cache file {path} is unreadable ({exc}); delete it and re-run preprocess") from None


def write_manifest(root: str | os.PathLike, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=1)
    atomic_write(Path(root) / MANIFEST, lambda tmp: Path(tmp).write_text(text))


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise UserError(f"{root} has no {MANIFEST}: run 'comosvc preprocess DATA {root}' first")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is unreadable ({exc}); re-run preprocess") from None
    if manifest.get("format_version") != CACHE_FORMAT:
        raise UserError(f"{path} has cache format {manifest.get('format_version')}; this version reads {CACHE_FORMAT}")
    return manifest
