"""Singer names <-> integer ids for the singer embedding.

Ids follow the order the names were given in (insertion order, not sorted),
so a model's table read back from its metadata keeps every id it trained with.
"""

from __future__ import annotations

from typing import Iterable

from core.errors import UserError


class SingerTable:
    def __init__(self, names: Iterable[str]) -> None:
        self._names: list[str] = []
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise UserError(f"singer names must be non-empty text, got {name!r}")
            if name in self._names:
                raise UserError(f"singer name '{name}' appears twice")
            self._names.append(name)
        self._ids = {name: index for index, name in enumerate(self._names)}

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def id(self, name: str) -> int:
        try:
            return self._ids[name]
        except KeyError:
            raise UserError(f"unknown singer '{name}'; known singers: {self._known()}") from None

    def name(self, singer_id: int) -> str:
        if not 0 <= int(singer_id) < len(self._names):
            raise UserError(f"no singer with id {singer_id}; known singers: {self._known()}")
        return self._names[int(singer_id)]

    def resolve(self, name_or_id: str | int) -> int:
        """An id from a name, or from a number given as int or text (as typed on a command line)."""
        if isinstance(name_or_id, int):
            self.name(name_or_id)
            return name_or_id
        if name_or_id not in self._ids and name_or_id.strip().isdigit():
            return self.resolve(int(name_or_id))
        return self.id(name_or_id)

    def to_json(self) -> list[str]:
        return list(self._names)

    @classmethod
    def from_json(cls, data: object) -> "SingerTable":
        if not isinstance(data, list):
            raise UserError(f"a singer table must be a list of names, got {type(data).__name__}")
        return cls(data)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._ids

    def __iter__(self):
        return iter(self._names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SingerTable) and other._names == self._names

    def __repr__(self) -> str:
        return f"SingerTable({self._names!r})"

    def _known(self) -> str:
        return ", ".join(self._names) if self._names else "(none)"
