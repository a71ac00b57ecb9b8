"""`comosvc convert`: files written, --json report, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cli.main import main
from convert_fixtures import build_tiny_model, sung_tone


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("convert_cli") / "tiny.safetensors"
    build_tiny_model(path)
    return path


def test_convert_writes_files_and_reports_json(model_path: Path, tmp_path: Path, capsys) -> None:
    stereo = np.stack([sung_tone(0.3, 44100), sung_tone(0.3, 44100)], axis=1)
    source = tmp_path / "take one.flac"
    sf.write(source, stereo, 44100)
    out_dir = tmp_path / "out"
    code = main(["convert", str(source), "--model", str(model_path), "--singer", "bass", "--out", str(out_dir),
                 "--pitch", "-3", "--rate", "44100", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    target = out_dir / "take one_bass.wav"
    assert report["files"][0]["output"] == str(target)
    assert report["files"][0]["pitch_semitones"] == -3.0
    audio, rate = sf.read(target)
    assert rate == 44100 and abs(len(audio) - len(stereo)) <= 1 and np.isfinite(audio).all()
    assert [p.name for p in out_dir.iterdir()] == [target.name]  # no temporary left behind


def test_churn_changes_the_teacher_and_zero_is_the_ode(model_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(0.3), 24000)
    outputs = {}
    for name, extra in {"own": [], "again": [], "ode": ["--churn", "0"], "gentle": ["--churn", "3"]}.items():
        folder = tmp_path / name
        assert main(["convert", str(source), "--model", str(model_path), "--singer", "alto", "--out", str(folder),
                     "--sampler", "teacher-30", *extra]) == 0
        outputs[name] = sf.read(folder / "in_alto.wav")[0]
    peak = np.abs(outputs["own"]).max()
    changed = lambda other: np.abs(outputs[other] - outputs["own"]).max() / peak  # noqa: E731
    assert changed("again") == 0.0  # churn noise is seeded: the same file twice
    assert changed("ode") > 1e-3  # the tiny model's own churn is 20
    assert changed("gentle") > 1e-3  # 3 / 30 steps raises each level by 10 %; 20 / 30 hits the cap, 41 %


def test_seed_draws_other_noise_and_zero_is_the_default(model_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(0.3), 24000)
    outputs = {}
    for name, extra in {"own": [], "zero": ["--seed", "0"], "one": ["--seed", "1"],
                        "teacher": ["--sampler", "teacher-4"], "teacher one": ["--sampler", "teacher-4", "--seed", "1"]
                        }.items():
        folder = tmp_path / name
        assert main(["convert", str(source), "--model", str(model_path), "--singer", "alto", "--out", str(folder),
                     *extra]) == 0
        outputs[name] = sf.read(folder / "in_alto.wav")[0]
    differs = lambda a, b: np.abs(outputs[a] - outputs[b]).max() / np.abs(outputs[a]).max()  # noqa: E731
    assert differs("zero", "own") == 0.0
    assert differs("one", "own") > 1e-3  # the student's starting noise
    assert differs("teacher one", "teacher") > 1e-3  # the teacher's start and churn


def test_latent_scale_changes_the_student_and_the_models_own_is_the_default(model_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(0.3), 24000)
    outputs = {}
    for name, extra in {"own": [], "same": ["--latent-scale", "0.6"], "one": ["--latent-scale", "1"]}.items():
        folder = tmp_path / name
        assert main(["convert", str(source), "--model", str(model_path), "--singer", "alto", "--out", str(folder),
                     *extra]) == 0
        outputs[name] = sf.read(folder / "in_alto.wav")[0]
    assert np.array_equal(outputs["own"], outputs["same"])  # the tiny model's own scale, as live.yaml's
    assert np.abs(outputs["one"] - outputs["own"]).max() > 1e-3 * np.abs(outputs["own"]).max()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--singer", "tenor"], "known singers: alto, bass"),
        (["--singer", "alto", "--sampler", "3"], "unknown sampler"),
        (["--singer", "alto", "--model", "/nonexistent/model.safetensors"], "model file not found"),
        (["--singer", "alto", "--churn", "5"], "needs --sampler teacher-N"),
        (["--singer", "alto", "--sampler", "teacher-2", "--churn", "-1"], "churn must be a number >= 0"),
        (["--singer", "alto", "--latent-scale", "nan"], "latent scale must be a number >= 0"),
        (["--singer", "alto", "--sampler", "teacher-2", "--latent-scale", "0.5"], "the teacher's starts at sigma_max"),
        (["--singer", "alto", "--seed", "-1"], "seed must be a whole number from 0"),
        (["--singer", "alto", "--seed", str(2**64)], "seed must be a whole number from 0"),
    ],
)
def test_errors_are_one_line(model_path: Path, tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(0.1), 24000)
    args = ["convert", str(source), "--out", str(tmp_path / "out")]
    if "--model" not in extra:
        args += ["--model", str(model_path)]
    code = main(args + extra)
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unreadable_input_and_corrupt_model(model_path: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    assert main(["convert", str(bad), "--model", str(model_path), "--singer", "alto"]) != 0
    assert "Traceback" not in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(model_path.read_bytes()[:1000])
    good = tmp_path / "in.wav"
    sf.write(good, sung_tone(0.1), 24000)
    assert main(["convert", str(good), "--model", str(corrupt), "--singer", "alto"]) != 0
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "Traceback" not in err


def test_auto_octave_moves_by_whole_octaves_and_auto_transpose_by_semitones(model_path: Path, tmp_path: Path,
                                                                            capsys) -> None:
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(0.5, hz=150.0), 24000)  # the alto's median is 330 Hz: 13.6 semitones up
    shifts = {}
    for flag in ("--auto-transpose", "--auto-octave"):
        assert main(["convert", str(source), "--model", str(model_path), "--singer", "alto", "--out",
                     str(tmp_path / flag), flag, "--json"]) == 0
        shifts[flag] = json.loads(capsys.readouterr().out)["files"][0]["auto_transpose_semitones"]
    assert shifts == {"--auto-transpose": 14.0, "--auto-octave": 12.0}


def test_auto_transpose_and_auto_octave_together_are_refused(model_path: Path, tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(0.3), 24000)
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", str(source), "--model", str(model_path), "--singer", "alto", "--auto-transpose",
              "--auto-octave"])
    assert exit_info.value.code == 2 and "not allowed with" in capsys.readouterr().err
