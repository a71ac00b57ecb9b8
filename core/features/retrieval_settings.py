"""The retrieval settings a user gives (ratio, index size, help text), without torch.

The argument parsers read these; core.features.retrieval re-exports them.
"""

from __future__ import annotations

from core.errors import UserError

CODES_PER_SINGER = 512  # k-means centroids kept per singer
RETRIEVAL_HELP = ("0..1: blend each frame's content this far toward the singer's own codes (needs a model with a "
                  "retrieval index, see 'comosvc index'; default 0, off)")


def check_retrieval_ratio(ratio: float) -> float:
    """A ratio in [0, 1] (UserError otherwise)."""
    value = float(ratio)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise UserError(f"retrieval ratio must be between 0 and 1, got {ratio}")
    return value


def no_index_error(model_path: str | None) -> UserError:
    """The one message for a retrieval ratio asked of a model file without an index."""
    return UserError(f"{model_path or 'this model'} holds no retrieval index; 'comosvc index MODEL CACHE' adds one "
                     "from the preprocess cache of its training data")
