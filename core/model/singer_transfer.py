"""Start an acoustic model from one trained for other singers (fine-tuning a model to your own voices).

Everything in a CoMoSVC network but the singer table is shared by all singers, so a model trained on
one set of singers is a good start for another. Singers found in both keep their row by name; a new
singer starts from the mean row, the "average singer", which training then moves toward its voice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

SINGER_TABLE_KEY = "conditioner.singer.weight"


@dataclass(frozen=True)
class SingerTransfer:
    kept: list[str]  # singers in both, their trained row carried over
    added: list[str]  # singers only in the new set, started from the mean row
    dropped: list[str]  # singers of the old model that the new set does not have

    def describe(self) -> str:
        return (f"singers kept {len(self.kept)} ({', '.join(self.kept) or 'none'}), new {len(self.added)} "
                f"({', '.join(self.added) or 'none'}), dropped {len(self.dropped)}")


def transfer_singers(state: dict[str, torch.Tensor], old_names: Sequence[str],
                     new_names: Sequence[str]) -> tuple[dict[str, torch.Tensor], SingerTransfer]:
    """A copy of an acoustic model's state dict with its singer table re-made for `new_names`."""
    table = state[SINGER_TABLE_KEY]
    if table.shape[0] != len(old_names):
        raise ValueError(f"the singer table has {table.shape[0]} rows for {len(old_names)} singer names")
    old_index = {name: row for row, name in enumerate(old_names)}
    mean_row = table.mean(dim=0)
    rows = [table[old_index[name]] if name in old_index else mean_row for name in new_names]
    result = dict(state)
    result[SINGER_TABLE_KEY] = torch.stack(rows).clone()
    transfer = SingerTransfer(kept=[n for n in new_names if n in old_index],
                              added=[n for n in new_names if n not in old_index],
                              dropped=[n for n in old_names if n not in set(new_names)])
    return result, transfer
