"""Start an acoustic model from one trained for other singers (fine-tuning a model to your own voices).

Everything in a CoMoSVC network but the singer table is shared by all singers, so a model trained on
one set of singers is a good start for another. Singers found in both keep their row by name.

A new singer gets a row of its own at random, as far from the table's centre as the learnt rows are.
The learnt rows stay close to their random start (Adam at the teacher's learning rate moves an entry by
about 1e-4 a step, and they start at N(0, 1)): the network learns to read those far-apart codes, not to
move them. A new singer started from the mean row, as this module first did, lies near the other new
ones; after 5235 fine-tuning steps the ten new rows were still within 1.6 of the mean (the learnt
rows: 8.5-11), and the network heard the new singers as one or two voices (BENCHMARKS.md, "Fourteen
distinct speakers").
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

SINGER_TABLE_KEY = "conditioner.singer.weight"


@dataclass(frozen=True)
class SingerTransfer:
    kept: list[str]  # singers in both, their trained row carried over
    added: list[str]  # singers only in the new set, given a new row (random unless the caller supplies one)
    dropped: list[str]  # singers of the old model that the new set does not have

    def describe(self) -> str:
        return (f"singers kept {len(self.kept)} ({', '.join(self.kept) or 'none'}), new {len(self.added)} "
                f"({', '.join(self.added) or 'none'}), dropped {len(self.dropped)}")


def transfer_singers(state: dict[str, torch.Tensor], old_names: Sequence[str], new_names: Sequence[str],
                     new_row: Callable[[str], torch.Tensor] | None = None,
                     ) -> tuple[dict[str, torch.Tensor], SingerTransfer]:
    """A copy of an acoustic model's state dict with its singer table re-made for `new_names`.

    A singer `old_names` lacks gets `new_row(name)`, by default a random row (`new_singer_row`).
    """
    table = state[SINGER_TABLE_KEY]
    if table.shape[0] != len(old_names):
        raise ValueError(f"the singer table has {table.shape[0]} rows for {len(old_names)} singer names")
    make_row = new_row or (lambda name: new_singer_row(table, name))
    old_index = {name: row for row, name in enumerate(old_names)}
    rows = [table[old_index[name]] if name in old_index else make_row(name) for name in new_names]
    result = dict(state)
    result[SINGER_TABLE_KEY] = torch.stack(rows).clone()
    transfer = SingerTransfer(kept=[n for n in new_names if n in old_index],
                              added=[n for n in new_names if n not in old_index],
                              dropped=[n for n in old_names if n not in set(new_names)])
    return result, transfer


def new_singer_row(table: torch.Tensor, name: str) -> torch.Tensor:
    """A row for a singer the table does not have: its centre plus noise of the learnt rows' own spread.

    Seeded by the name, so that the same singer gets the same row in every run and in any order.
    """
    centre = table.mean(dim=0)
    deviations = table - centre if table.shape[0] > 1 else table  # one row: its own size is all there is
    spread = deviations.float().pow(2).mean().sqrt()
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode("utf-8")))
    noise = torch.randn(table.shape[1], generator=generator)
    return (centre.float() + spread * noise).to(table.dtype)
