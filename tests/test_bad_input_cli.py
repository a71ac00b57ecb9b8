"""Issue #16 part B: bad input to corpus, train, live, latency and devices gets one clear line and exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import build_parser, main

REPO = Path(__file__).resolve().parent.parent


def one_error_line(capsys, command: str) -> str:
    """The single stderr line of a failed command (fails if there is more, or a traceback)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"comosvc {command}: error:") and "Traceback" not in err[0]
    return err[0]


# --- corpus ---------------------------------------------------------------------------------------------------


def test_corpus_list_singers_needs_no_output_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["corpus", "--list-singers", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(listing) == {"available", "skipped"}
    assert list(tmp_path.iterdir()) == []  # listing writes nothing


def test_corpus_without_output_folder_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["corpus"]) == 2
    assert "OUT" in one_error_line(capsys, "corpus")
    assert list(tmp_path.iterdir()) == []


def test_corpus_default_singers_match_the_shipped_model():
    from core.data.corpus_spec import CorpusSpec

    script = (REPO / "scripts" / "train_default_model.sh").read_text()
    assert f"--singers {CorpusSpec().singers} " in script  # the corpus the default model was made from
    args = build_parser().parse_args(["corpus", "x"])
    assert args.singers == CorpusSpec().singers and args.clips_per_singer == CorpusSpec().clips_per_singer


# --- train and preprocess -------------------------------------------------------------------------------------


def _subparser(parser, name):
    import argparse

    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def test_every_train_option_has_help_that_states_its_default():
    train = _subparser(build_parser(), "train")
    for stage in ("teacher", "student", "vocoder", "all"):
        for action in _subparser(train, stage)._actions:
            if not action.option_strings or action.required or action.dest in ("help", "json"):
                continue
            assert action.help and "default" in action.help, (stage, action.option_strings)


def test_train_and_preprocess_default_to_the_shipped_models_config():
    from core.config import TRAINING_CONFIG, load_config

    parser = build_parser()
    assert parser.parse_args(["preprocess", "d", "o"]).config == TRAINING_CONFIG
    for argv in (["train", "teacher", "c", "--out", "x"], ["train", "vocoder", "d", "--out", "x"],
                 ["train", "all", "d", "o"]):
        assert parser.parse_args(argv).config == TRAINING_CONFIG, argv
    script = (REPO / "scripts" / "train_default_model.sh").read_text()
    assert "train all " in script and f"--config {TRAINING_CONFIG} " in script
    assert load_config(TRAINING_CONFIG).name == TRAINING_CONFIG


@pytest.mark.parametrize("argv, option", [
    (["teacher", "CACHE", "--out", "OUT", "--steps", "0"], "--steps"),
    (["teacher", "CACHE", "--out", "OUT", "--checkpoint-every", "-1"], "--checkpoint-every"),
    (["student", "CACHE", "--teacher", "T", "--out", "OUT", "--max-minutes", "-2"], "--max-minutes"),
    (["vocoder", "CACHE", "--out", "OUT", "--threads", "0"], "--threads"),
    (["all", "CACHE", "OUT", "--teacher-minutes", "0"], "--teacher-minutes"),
    (["all", "CACHE", "OUT", "--student-steps", "0"], "--student-steps"),
    (["teacher", "CACHE", "--out", "OUT", "--adversary-weight", "-0.5"], "--adversary-weight"),
])
def test_impossible_training_numbers_are_one_line_naming_the_option(argv, option, tmp_path, capsys):
    cache, out = tmp_path / "cache", tmp_path / "out"
    cache.mkdir()
    argv = [str(cache) if a == "CACHE" else str(out) if a == "OUT" else a for a in argv]
    assert main(["train", *argv]) == 2
    assert option in one_error_line(capsys, "train")
    assert not out.exists() and list(cache.iterdir()) == []


def test_vocoder_stage_refuses_options_it_would_ignore(tmp_path):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["train", "vocoder", str(tmp_path), "--out", "v", "--device", "cuda"])
    assert stop.value.code == 2
