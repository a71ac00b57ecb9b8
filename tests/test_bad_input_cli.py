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
