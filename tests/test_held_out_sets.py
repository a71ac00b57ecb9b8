"""bench/held_out_sets.py: the named sets point at clips make_sung_voices.py writes, and a failed set leaves no JSON."""

import sys

import pytest

from tests.bench_scripts import load_bench


@pytest.fixture(scope="module")
def sets():
    return load_bench("held_out_sets")


def test_every_set_names_voices_that_make_sung_voices_sings(sets, tmp_path):
    voices = load_bench("make_sung_voices").VOICES
    for name, (names, clips, index) in sets.SETS.items():
        assert set(names) <= set(voices) and 0 <= index < clips, name
        for path in sets.set_sources(name, tmp_path):
            assert path.parent == tmp_path / f"voices{clips}" and path.name.endswith(f"_{index}.wav")
    assert sets.set_sources("_1", tmp_path)[0].parent.name == "voices2"  # halves, as sessions 12-51 used
    assert sets.set_sources("w2", tmp_path)[0].name == "june_female_2.wav"


def test_dry_run_prints_only_what_is_missing_and_passes_the_extra_flags(sets, tmp_path, capsys):
    (tmp_path / "shared" / "voices4").mkdir(parents=True)
    (tmp_path / "shared" / "voices4" / "voices.json").write_text("{}")
    (tmp_path / "w0.json").write_text("{}")
    assert sets.main([str(tmp_path), "--model", "M", "--targets-dir", "C", "--sets", "w0", "w1", "--dry-run",
                      "--voices-dir", str(tmp_path / "shared"), "--", "--seed", "2", "--auto-transpose"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and str(tmp_path / "shared" / "voices4" / "june_female_1.wav") in lines[0]
    assert lines[0].endswith("--json --seed 2 --auto-transpose")


def test_unknown_set_is_one_error_line_and_runs_nothing(sets, tmp_path, capsys):
    assert sets.main([str(tmp_path / "run"), "--model", "M", "--targets-dir", "C", "--sets", "w0", "q7"]) != 0
    err = capsys.readouterr().err
    assert "q7" in err and "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_failed_set_leaves_no_json_and_a_finished_one_is_written_whole(sets, tmp_path):
    ok = [sys.executable, "-c", "print('{\"x\": 1}')"]
    assert sets._run_set("w0", ok, tmp_path) == ""
    assert (tmp_path / "w0.json").read_text().strip() == '{"x": 1}'
    bad = [sys.executable, "-c", "import sys; print('{\"half'); sys.exit(3)"]
    message = sets._run_set("w1", bad, tmp_path)
    assert "exited 3" in message and not (tmp_path / "w1.json").exists()
