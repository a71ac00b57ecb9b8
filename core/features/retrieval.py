"""Feature retrieval: pull a source's content codes toward the target singer's own codes.

A content code still carries some of the voice it was computed from (the built-in
encoder only suppresses the speaker), and the acoustic model learned each singer's
timbre from that singer's own codes. Blending every frame's code with its nearest
codes from the target singer's training audio (the idea of so-vits-svc 4.1's feature
retrieval and RVC's index) moves the input toward what the model heard with that
singer. The cost is articulation: at a ratio of 1 every frame is made of the singer's
codes only. With the default model's encoder, which keeps little of the speaker, it
measured a little cleaner and NOT more like the singer (BENCHMARKS.md "Feature
retrieval"), so it is off unless asked for.

`SingerIndex` holds, per singer, a small table of representative codes (k-means
centroids of all its training frames): 0.9 MB for 14 singers of 64-d codes, and a
(frames x table) distance matrix per block. The blend of a frame depends on that
frame's code only, so overlapping live windows regenerate identically.
"""

from __future__ import annotations

from typing import Iterable

import torch

from core.errors import ModelFileError
# What the user sets lives in a torch-free module, so that the CLI's help is quick.
from core.features.retrieval_settings import (  # noqa: F401  (re-exported)
    CODES_PER_SINGER, RETRIEVAL_HELP, check_retrieval_ratio, no_index_error,
)

RETRIEVAL_PART = "retrieval"  # model-file part: tensor "<singer index>" = (codes, dim)
NEIGHBOURS = 8  # codes blended per frame
KMEANS_ITERATIONS = 12
_DISTANCE_FLOOR = 1e-6


def kmeans(codes: torch.Tensor, count: int, iterations: int = KMEANS_ITERATIONS, seed: int = 0) -> torch.Tensor:
    """`count` centroids of (N, D) `codes`: Lloyd's algorithm from a seeded k-means++ start.

    With N <= count the codes themselves are returned. A centroid that loses all its
    members takes the code farthest from its current centroid, so none is wasted.
    """
    codes = codes.float()
    if len(codes) <= count:
        return codes.clone()
    centroids = _kmeans_plus_plus(codes, count, torch.Generator().manual_seed(seed))
    for _ in range(iterations):
        nearest, distance = _nearest(codes, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, nearest, codes)
        counts = torch.bincount(nearest, minlength=count)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None].float()
        empty = torch.nonzero(~filled).flatten()
        if len(empty):
            centroids[empty] = codes[torch.topk(distance, len(empty)).indices]
    return centroids


def _kmeans_plus_plus(codes: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Seeds drawn with probability proportional to the squared distance to the nearest seed so far."""
    chosen = [int(torch.randint(len(codes), (1,), generator=generator))]
    distance = (codes - codes[chosen[0]]).pow(2).sum(1)
    for _ in range(count - 1):
        pick = int(torch.multinomial(distance + 1e-12, 1, generator=generator))
        chosen.append(pick)
        distance = torch.minimum(distance, (codes - codes[pick]).pow(2).sum(1))
    return codes[chosen].clone()


def _nearest(codes: torch.Tensor, table: torch.Tensor, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of and squared distance to the nearest table row, for each code (chunked for memory)."""
    indices, distances = [], []
    for start in range(0, len(codes), chunk):
        d = _squared_distances(codes[start:start + chunk], table)
        best = d.min(dim=1)
        indices.append(best.indices)
        distances.append(best.values)
    return torch.cat(indices), torch.cat(distances)


def _squared_distances(codes: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    return (codes.pow(2).sum(1, keepdim=True) - 2.0 * codes @ table.T + table.pow(2).sum(1)[None]).clamp(min=0.0)


class SingerIndex:
    """Per-singer tables of representative content codes, and the blend toward them."""

    def __init__(self, tables: list[torch.Tensor]) -> None:
        if not tables:
            raise ValueError("a singer index needs at least one singer")
        dims = {int(t.shape[1]) for t in tables if t.ndim == 2}
        if len(dims) != 1 or any(t.ndim != 2 or len(t) == 0 for t in tables):
            raise ValueError("every singer's table must be a non-empty (codes, dim) matrix of one dim")
        self.tables = [t.float() for t in tables]
        self.dim = dims.pop()

    @classmethod
    def build(cls, codes_per_singer: Iterable[torch.Tensor], count: int = CODES_PER_SINGER, seed: int = 0) -> "SingerIndex":
        """k-means tables from each singer's (frames, dim) codes, in singer-id order."""
        return cls([kmeans(codes, count, seed=seed) for codes in codes_per_singer])

    @property
    def n_singers(self) -> int:
        return len(self.tables)

    def to(self, device: torch.device | str) -> "SingerIndex":
        self.tables = [t.to(device) for t in self.tables]
        return self

    def blend(self, codes: torch.Tensor, singer: int, ratio: float, neighbours: int = NEIGHBOURS) -> torch.Tensor:
        """(T, dim) codes moved `ratio` of the way to their retrieved counterparts for `singer`.

        The retrieved code is the inverse-square-distance weighted mean of the `neighbours`
        nearest table codes (an exact match gets all the weight).
        """
        if ratio <= 0.0 or len(codes) == 0:
            return codes
        table = self.tables[singer]
        k = min(neighbours, len(table))
        distance, index = torch.topk(_squared_distances(codes.float(), table), k, dim=1, largest=False)
        weight = 1.0 / distance.clamp(min=_DISTANCE_FLOOR).pow(2)
        weight = weight / weight.sum(dim=1, keepdim=True)
        retrieved = (weight[..., None] * table[index]).sum(dim=1).to(codes.dtype)
        return codes + ratio * (retrieved - codes)

    # ----- model file -----------------------------------------------------------------------
    def file_part(self) -> dict[str, torch.Tensor]:
        """Tensors for the model file's "retrieval." part (float16 halves its size)."""
        return {str(i): t.detach().cpu().half().contiguous() for i, t in enumerate(self.tables)}

    @classmethod
    def from_file_part(cls, tensors: dict[str, torch.Tensor], n_singers: int, dim: int, path: str) -> "SingerIndex":
        """The index stored by `file_part`; ModelFileError if it does not fit the model."""
        names = [str(i) for i in range(n_singers)]
        if sorted(tensors) != sorted(names):
            raise ModelFileError(f"{path}: the retrieval index has tables {sorted(tensors)}, the model has {n_singers} singers")
        tables = [tensors[name] for name in names]
        if any(t.ndim != 2 or t.shape[1] != dim or len(t) == 0 for t in tables):
            raise ModelFileError(f"{path}: the retrieval index does not hold {dim}-d content codes")
        return cls([t.float() for t in tables])
