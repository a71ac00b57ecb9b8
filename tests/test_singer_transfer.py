"""`train teacher --init` from a model trained for other singers (core/model/singer_transfer.py)."""

import pytest
import torch

from core.data.preprocess import preprocess
from core.model.model_file import load_model
from core.model.singer_transfer import SINGER_TABLE_KEY, new_singer_row, transfer_singers
from core.train.singer_stats import singer_f0_medians
from core.train.teacher import RunOptions, train_teacher
from tests.test_data_fixtures import make_corpus, micro_config
from tests.test_train_teacher import cache  # noqa: F401 - the two-singer micro cache fixture


def test_rows_follow_the_names_and_new_singers_get_rows_of_their_own():
    table = torch.randn(14, 128, generator=torch.Generator().manual_seed(1))  # as nn.Embedding starts
    names = [f"old{i}" for i in range(14)]
    state = {SINGER_TABLE_KEY: table, "other": torch.ones(2)}
    moved, transfer = transfer_singers(state, names, ["old13", "new", "old0", "newer"])
    rows = moved[SINGER_TABLE_KEY]
    assert torch.equal(rows[0], table[13]) and torch.equal(rows[2], table[0])
    # A new singer is as far from the centre, and from the other new one, as learnt singers are from each
    # other; a row at the mean (this module's first choice) was 0 from it, and the new singers sounded alike.
    centre = table.mean(dim=0)
    learnt_from_centre = (table - centre).norm(dim=1).mean()
    for new_row in (rows[1], rows[3]):
        assert 0.7 * learnt_from_centre < (new_row - centre).norm() < 1.3 * learnt_from_centre
    assert (rows[1] - rows[3]).norm() > 0.7 * torch.pdist(table).mean()
    # The same name gets the same row in any order and any run.
    again, _ = transfer_singers(state, names, ["newer", "new"])
    assert torch.equal(again[SINGER_TABLE_KEY][0], rows[3]) and torch.equal(again[SINGER_TABLE_KEY][1], rows[1])
    assert moved["other"] is state["other"] and torch.equal(state[SINGER_TABLE_KEY], table)  # the input is untouched
    assert (transfer.kept, transfer.added, transfer.dropped) == (["old13", "old0"], ["new", "newer"], names[1:13])
    with pytest.raises(ValueError, match="rows"):
        transfer_singers(state, ["a", "b"], ["a"])


def test_teacher_init_from_a_model_of_other_singers(cache, tmp_path):
    cfg = micro_config()
    first = tmp_path / "two.safetensors"
    train_teacher(cache, first, cfg, RunOptions(steps=2, progress=False, tensorboard=False), log=lambda m: None)
    three = tmp_path / "cache3"
    preprocess(make_corpus(tmp_path / "data3", singers=3, files=3), three, cfg, progress=False, log=lambda m: None)

    messages = []
    again = tmp_path / "three.safetensors"  # zero steps: the file is what --init started it from
    train_teacher(three, again, cfg, RunOptions(steps=0, progress=False, tensorboard=False), log=messages.append,
                  init=first)
    old, new = load_model(first), load_model(again)
    assert new.singers.names == ["singer0", "singer1", "singer2"]
    old_table, new_table = old.teacher.state_dict()[SINGER_TABLE_KEY], new.teacher.state_dict()[SINGER_TABLE_KEY]
    assert torch.equal(new_table[:2], old_table)
    assert torch.allclose(new_table[2], new_singer_row(old_table, "singer2"))
    for key, value in old.teacher.state_dict().items():  # everything else is carried over as it was
        if key != SINGER_TABLE_KEY:
            assert torch.equal(new.teacher.state_dict()[key], value), key
    assert any("new 1 (singer2)" in m for m in messages)
    # Auto-transpose needs every singer's median, so a new singer set takes them from its own cache.
    assert new.metadata["singer_f0_median_hz"] == pytest.approx(singer_f0_medians(three))
    assert set(new.metadata["singer_f0_median_hz"]) == {"singer0", "singer1", "singer2"}


def test_student_init_from_a_model_of_other_singers(cache, tmp_path):
    from core.train.student import train_student

    cfg = micro_config()
    options = RunOptions(steps=1, progress=False, tensorboard=False)
    two_teacher, two_model = tmp_path / "two-teacher.safetensors", tmp_path / "two-model.safetensors"
    train_teacher(cache, two_teacher, cfg, options, log=lambda m: None)
    train_student(cache, two_teacher, two_model, options, log=lambda m: None)
    three = tmp_path / "cache3"
    preprocess(make_corpus(tmp_path / "data3", singers=3, files=3), three, cfg, progress=False, log=lambda m: None)
    three_teacher = tmp_path / "three-teacher.safetensors"
    train_teacher(three, three_teacher, cfg, options, log=lambda m: None, init=two_model)

    messages = []
    out = tmp_path / "three-model.safetensors"  # zero steps: the student is what --init started it from
    train_student(three, three_teacher, out, RunOptions(steps=0, progress=False, tensorboard=False),
                  log=messages.append, init=two_model)
    old, new = load_model(two_model).student.state_dict(), load_model(out).student.state_dict()
    assert torch.equal(new[SINGER_TABLE_KEY][:2], old[SINGER_TABLE_KEY])
    # The new singer takes the row its teacher was trained with, not a fresh draw from the student's table.
    teacher_row = load_model(three_teacher).teacher.state_dict()[SINGER_TABLE_KEY][2]
    assert torch.equal(new[SINGER_TABLE_KEY][2], teacher_row)
    assert not torch.equal(teacher_row, new_singer_row(old[SINGER_TABLE_KEY], "singer2"))  # the test can tell
    assert all(torch.equal(new[k], v) for k, v in old.items() if k != SINGER_TABLE_KEY)
    assert any("new 1 (singer2)" in m for m in messages)
