"""Singer name table."""

import json

import pytest

from core.errors import UserError
from core.features.singers import SingerTable


def test_ids_follow_insertion_order():
    table = SingerTable(["zoe", "adam", "mia"])
    assert [table.id(n) for n in ["zoe", "adam", "mia"]] == [0, 1, 2]
    assert table.name(1) == "adam"
    assert table.names == ["zoe", "adam", "mia"]
    assert len(table) == 3 and "mia" in table and "bob" not in table


def test_json_round_trip():
    table = SingerTable(["b", "a", "c d"])
    again = SingerTable.from_json(json.loads(json.dumps(table.to_json())))
    assert again == table and again.id("c d") == 2


def test_unknown_name_lists_known_names():
    table = SingerTable(["alto", "bass"])
    with pytest.raises(UserError, match="unknown singer 'tenor'.*alto, bass"):
        table.id("tenor")
    with pytest.raises(UserError, match="no singer with id 5"):
        table.name(5)


def test_resolve_accepts_names_and_numbers():
    table = SingerTable(["alto", "bass"])
    assert table.resolve("bass") == 1 and table.resolve("1") == 1 and table.resolve(0) == 0
    with pytest.raises(UserError):
        table.resolve("7")


@pytest.mark.parametrize("names", [["a", "a"], ["a", ""], ["a", 3]])
def test_bad_tables_rejected(names):
    with pytest.raises(UserError):
        SingerTable(names)
    with pytest.raises(UserError):
        SingerTable.from_json({"not": "a list"})
