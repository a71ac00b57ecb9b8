"""Per-singer figures a model file carries: the median F0 of each singer's training data.

Conversion's auto-transpose moves a source toward this median
(core.convert: metadata key "singer_f0_median_hz").
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.data.cache import load_clip, read_manifest


def singer_f0_medians(cache_dir: str | os.PathLike) -> dict[str, float]:
    """{singer: median voiced F0 in Hz} over the original (unaugmented) clips of a feature cache."""
    manifest = read_manifest(cache_dir)
    voiced: dict[str, list[np.ndarray]] = {}
    for clip in manifest["clips"]:
        if clip.get("augment", "none") != "none":
            continue
        features = load_clip(Path(cache_dir) / clip["file"])
        f0 = np.asarray(features.f0)[np.asarray(features.voiced, bool)]
        voiced.setdefault(clip["singer"], []).append(f0[f0 > 0])
    return {singer: float(np.median(np.concatenate(parts))) for singer, parts in voiced.items()
            if sum(len(p) for p in parts)}
