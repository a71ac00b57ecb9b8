"""What a synthetic corpus is made of: the one place its defaults live.

Kept apart from core/data/corpus.py (which pulls in torch and the renderer) so
that `comosvc --help` can show these defaults without importing either.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError


@dataclass(frozen=True)
class CorpusSpec:
    singers: int = 16  # what the shipped default model was trained from (models/README.md)
    clips_per_singer: int = 20
    seed: int = 0
    min_seconds: float = 2.5
    max_seconds: float = 8.0
    sample_rate: int = 24000
    hop_length: int = 128
    # Named singers instead of the first N of the list: the same clips as in a full corpus, since a clip's
    # seed depends on its singer's name and index only (core.data.corpus.clip_seed).
    names: tuple[str, ...] = ()

    def check(self) -> None:
        if self.singers < 1 or self.clips_per_singer < 1:
            raise UserError("--singers and --clips-per-singer must be at least 1")
        if not 1.0 <= self.min_seconds <= self.max_seconds:
            raise UserError("need 1 <= --min-seconds <= --max-seconds")
        if len(set(self.names)) != len(self.names):
            raise UserError("--only names a singer twice")
