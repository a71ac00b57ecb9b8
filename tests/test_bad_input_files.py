"""Issue #16 A: every bad file or conversion input gets one clear line, and nothing is lost.

Each case checks the exit code, that stderr holds exactly the error line(s) naming the
file or option (no traceback), and which output files exist afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from cli.main import main
from convert_fixtures import SINGERS, build_tiny_model, sung_tone, tiny_config
from core.audio.io import MIN_AUDIO_SECONDS, check_output_folder, load_audio
from core.audio.peak import PEAK_CEILING_DB, fit_below_full_scale
from core.audio.truncation import truncation
from core.errors import UserError
from core.features.pitch import PITCH_SHIFT_LIMIT, check_pitch_shift


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bad_input") / "tiny.safetensors"
    build_tiny_model(path)
    return path


def _wav(path: Path, seconds: float, rate: int = 24000, gain: float = 1.0) -> Path:
    sf.write(path, gain * sung_tone(seconds, rate), rate)
    return path


def _truncated_wav(path: Path) -> Path:
    """A 2 s float WAV cut to a third of its bytes: the header still promises 2 s."""
    sf.write(path, sung_tone(2.0), 24000, subtype="FLOAT")
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])
    return path


def _errors(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.strip()]


def _one_error(capsys, command: str, *fragments: str) -> str:
    lines = _errors(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"comosvc {command}: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# ----- 1, 2: where the output goes is checked before any work ------------------------------------

def test_convert_out_that_is_a_file_is_refused_before_the_model_loads(tmp_path, capsys):
    source = _wav(tmp_path / "in.wav", 0.3)
    blocker = tmp_path / "taken"
    blocker.write_text("keep me")
    # A model that does not exist: had the model loaded first, the error would name it instead.
    code = main(["convert", str(source), "--singer", "alto", "--model", str(tmp_path / "none.safetensors"),
                 "--out", str(blocker)])
    assert code == 2
    _one_error(capsys, "convert", "--out", str(blocker), "is a file")
    assert blocker.read_text() == "keep me"
    code = main(["convert", str(source), "--singer", "alto", "--model", str(tmp_path / "none.safetensors"),
                 "--out", str(blocker / "sub")])
    assert code == 2
    _one_error(capsys, "convert", "--out", str(blocker), "is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "taken"]


def _unwritable_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        check_output_folder(folder)
    except UserError:
        return folder
    folder.chmod(0o755)  # root ignores permission bits; a read-only mount still refuses it
    for candidate in (Path("/sys/comosvc-test-out"), Path("/proc/comosvc-test-out")):
        try:
            check_output_folder(candidate)
        except UserError:
            return candidate
    pytest.skip("no unwritable folder available to this user")


def test_unwritable_output_is_found_before_the_work(model_path, tmp_path, capsys):
    source = _wav(tmp_path / "in.wav", 0.3)
    locked = _unwritable_folder(tmp_path)
    assert main(["convert", str(source), "--singer", "alto", "--model", str(model_path), "--out", str(locked)]) == 2
    _one_error(capsys, "convert", "cannot write to --out", str(locked))
    # vocode and simulate: a vocoder / model that does not exist proves the check came first.
    assert main(["vocode", str(source), "--out", str(locked / "o.wav"), "--vocoder", "/none.safetensors"]) == 2
    _one_error(capsys, "vocode", "--out", str(locked))
    assert main(["simulate", str(source), "-o", str(locked / "o.wav"), "--model", "/none.safetensors"]) == 2
    _one_error(capsys, "simulate", "-o", str(locked))
    assert main(["vocode", str(source), "--out", str(tmp_path), "--vocoder", "/none.safetensors"]) == 2
    _one_error(capsys, "vocode", "--out", "is a folder")
    assert main(["features", str(source), "--plot", str(locked / "f0.png")]) == 2
    _one_error(capsys, "features", "--plot", str(locked))
    (tmp_path / "data" / "alto").mkdir(parents=True)
    _wav(tmp_path / "data" / "alto" / "take.wav", 0.3)
    assert main(["preprocess", str(tmp_path / "data"), str(locked / "cache")]) == 2
    _one_error(capsys, "preprocess", "cannot write to cache folder", str(locked / "cache"))


def test_output_named_like_a_folder_or_a_full_disk_is_one_line_and_leaves_nothing(model_path, tmp_path, capsys,
                                                                                   monkeypatch):
    from core.audio import io
    from core.errors import AudioFileError

    source = _wav(tmp_path / "in.wav", 0.3)
    out = tmp_path / "out"
    (out / "in_alto.wav").mkdir(parents=True)
    assert main(["convert", str(source), "--singer", "alto", "--model", str(model_path), "--out", str(out)]) == 2
    _one_error(capsys, "convert", str(out / "in_alto.wav"), "a folder has that name")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.sf, "write", disk_full)
    with pytest.raises(AudioFileError, match="cannot write .*o.wav: No space left on device"):
        io.save_audio(tmp_path / "o.wav", np.zeros(100, np.float32), 24000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out"]


# ----- 3, 6: too short and truncated audio, the same words in every command ------------------------

def test_too_short_audio_gets_the_same_line_in_every_command(model_path, tmp_path, capsys):
    short = _wav(tmp_path / "short.wav", 0.01)
    expected = f"{short} is too short: it holds 10 ms of audio, at least {1000 * MIN_AUDIO_SECONDS:.0f} ms are needed"
    commands = [
        ["vocode", str(short), "--out", str(tmp_path / "v.wav"), "--vocoder", "griffin-lim"],
        ["features", str(short)],
        ["convert", str(short), "--singer", "alto", "--model", str(model_path), "--out", str(tmp_path / "c")],
        ["simulate", str(short), "--model", str(model_path), "-o", str(tmp_path / "s.wav")],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        assert _one_error(capsys, argv[0]).endswith(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.wav"]


def test_truncated_wav_is_named_with_what_it_holds(model_path, tmp_path, capsys):
    cut = _truncated_wav(tmp_path / "cut.wav")
    found = truncation(cut)
    assert found is not None and found.promised_seconds == pytest.approx(2.0)
    assert found.held_seconds == pytest.approx(sf.info(str(cut)).frames / 24000, abs=1e-3)
    commands = [
        ["features", str(cut)],
        ["convert", str(cut), "--singer", "alto", "--model", str(model_path), "--out", str(tmp_path / "c")],
        ["simulate", str(cut), "--model", str(model_path), "-o", str(tmp_path / "s.wav")],
        ["vocode", str(cut), "--out", str(tmp_path / "v.wav"), "--vocoder", "griffin-lim"],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        _one_error(capsys, argv[0], str(cut), "is truncated", "promises 2.00 s", "holds 0.67 s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.wav"]


def test_truncated_aiff_is_caught_too(tmp_path):
    from core.errors import AudioFileError

    whole = tmp_path / "whole.aiff"
    sf.write(whole, sung_tone(2.0), 24000, format="AIFF", subtype="PCM_16")
    assert truncation(whole) is None
    cut = tmp_path / "cut.aiff"
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 3])
    with pytest.raises(AudioFileError, match="cut.aiff is truncated: its header promises 2.00 s .* holds 0.6"):
        load_audio(cut, 24000)


def test_whole_and_streamed_wavs_are_not_called_truncated(tmp_path):
    whole = _wav(tmp_path / "whole.wav", 0.3)
    assert truncation(whole) is None
    streamed = tmp_path / "streamed.wav"  # a writer that never went back to fill in the sizes
    data = bytearray(whole.read_bytes())
    at = data.find(b"data")
    data[at + 4:at + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    streamed.write_bytes(bytes(data))
    assert truncation(streamed) is None
    assert len(load_audio(streamed, 24000)) == len(load_audio(whole, 24000))


# ----- 4: simulate on a file shorter than its start-up --------------------------------------------

def test_simulate_short_file_with_long_latency_runs_and_says_why_not_compared(model_path, tmp_path, capsys):
    source = _wav(tmp_path / "in.wav", 1.6, rate=48000)
    preset = tmp_path / "slow.json"
    preset.write_text(json.dumps({"name": "slow", "block_ms": 400.0, "context_ms": 300.0, "lookahead_ms": 32.0,
                                  "crossfade_ms": 20.0, "sola_search_ms": 12.0, "output_margin_ms": 30.0,
                                  "f0_method": "dio"}))
    code = main(["simulate", str(source), "--model", str(model_path), "--preset", str(preset), "--singer", "alto"])
    out = capsys.readouterr().out
    assert code == 0
    assert "not compared with offline conversion" in out and "vs offline" not in out


# ----- 5, 13: model files that are not conversion models ----------------------------------------

def test_pickle_checkpoint_as_model_names_the_import_commands(tmp_path, capsys):
    source = _wav(tmp_path / "in.wav", 0.3)
    for name, legacy in (("model.pt", False), ("model.ckpt", True)):
        pickle_file = tmp_path / name
        torch.save({"weight": torch.zeros(2)}, pickle_file, _use_new_zipfile_serialization=not legacy)
        assert main(["convert", str(source), "--singer", "alto", "--model", str(pickle_file)]) == 2
        line = _one_error(capsys, "convert", str(pickle_file), "pickle checkpoint", "comosvc import-model",
                          "comosvc import-vocoder", "comosvc import-content")
        assert "truncated" not in line and "corrupt" not in line


def test_teacher_only_file_names_the_command_that_makes_a_model(tmp_path, capsys):
    from core.model.acoustic import AcousticModel
    from core.model.model_file import save_model

    cfg = tiny_config().replace({"model.n_singers": len(SINGERS)})
    teacher_file = tmp_path / "teacher.safetensors"
    save_model(teacher_file, cfg, SINGERS, teacher=AcousticModel.from_config(cfg))
    source = _wav(tmp_path / "in.wav", 0.3)
    assert main(["convert", str(source), "--singer", "alto", "--model", str(teacher_file)]) == 2
    line = _one_error(capsys, "convert", str(teacher_file), "training stage's file", "'comosvc train all DATA OUT'")
    assert "save_voice_model" not in line


# ----- 7: one pitch range everywhere ------------------------------------------------------------

def test_pitch_outside_the_range_is_refused_everywhere_with_one_message(model_path, tmp_path, capsys):
    from gui.panels.voice import PITCH_RANGE
    from realtime.engine import Engine

    source = _wav(tmp_path / "in.wav", 0.3)
    message = f"pitch shift must be between -{PITCH_SHIFT_LIMIT:g} and +{PITCH_SHIFT_LIMIT:g} semitones, got 1000"
    for argv in (["convert", str(source), "--singer", "alto", "--model", str(model_path), "--pitch", "1000"],
                 ["simulate", str(source), "--model", str(model_path), "--pitch", "1000"],
                 ["live", "--pitch", "1000", "--model", "/none.safetensors", "--input", "no such device"]):
        assert main(argv) == 2, argv
        assert _one_error(capsys, argv[0]).endswith(message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
    with pytest.raises(UserError, match="between -24 and \\+24"):
        Engine.set_pitch(object.__new__(Engine), -24.5)
    assert check_pitch_shift(-PITCH_SHIFT_LIMIT) == -PITCH_SHIFT_LIMIT
    assert PITCH_RANGE == PITCH_SHIFT_LIMIT


# ----- 8, 12: the sampler option -----------------------------------------------------------------

def test_teacher_zero_says_n_at_least_one(model_path, tmp_path, capsys):
    source = _wav(tmp_path / "in.wav", 0.3)
    assert main(["convert", str(source), "--singer", "alto", "--model", str(model_path), "--sampler", "teacher-0"]) == 2
    _one_error(capsys, "convert", "'teacher-0'", "teacher-N with N >= 1")


def test_steps_still_works_for_convert_with_one_deprecation_line(model_path, tmp_path, capsys):
    source = _wav(tmp_path / "in.wav", 0.3)
    out = tmp_path / "out"
    assert main(["convert", str(source), "--singer", "alto", "--model", str(model_path), "--steps", "2",
                 "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "comosvc convert: warning: --steps is deprecated, use --sampler"
    assert json.loads(captured.out)["files"][0]["steps"] == "2"
    assert (out / "in_alto.wav").is_file()


# ----- 9: files meant for listening never pass full scale -----------------------------------------

def test_peak_fit_leaves_quiet_audio_alone_and_scales_loud_audio():
    quiet = np.array([0.5, -1.0, 0.25], np.float32)
    same, gain = fit_below_full_scale(quiet)
    assert gain == 0.0 and np.array_equal(same, quiet)
    loud = np.array([0.8, -2.0, 1.6], np.float32)
    scaled, gain = fit_below_full_scale(loud)
    assert np.max(np.abs(scaled)) == pytest.approx(10 ** (PEAK_CEILING_DB / 20), rel=1e-5)
    assert gain == pytest.approx(PEAK_CEILING_DB - 20 * np.log10(2.0), abs=1e-4)
    assert np.allclose(scaled / loud, scaled[0] / loud[0])  # one gain for the whole file: no distortion


def test_loud_conversion_is_written_below_full_scale_with_a_note(model_path, tmp_path, capsys):
    source = tmp_path / "loud.wav"
    sf.write(source, np.clip(8.0 * sung_tone(0.5), -1, 1), 24000)
    assert main(["convert", str(source), "--singer", "bass", "--model", str(model_path), "--out", str(tmp_path / "o"),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["files"][0]
    written, _ = sf.read(report["output"])
    assert np.max(np.abs(written)) <= 1.0
    peaked = [n for n in report["notes"] if "scaled down" in n]
    if np.max(np.abs(written)) == pytest.approx(10 ** (PEAK_CEILING_DB / 20), rel=1e-4):
        assert peaked  # it was scaled, and said so
    else:
        assert not peaked


# ----- 10: one bad file among several -----------------------------------------------------------

def test_convert_goes_on_past_a_bad_file_and_exits_2(model_path, tmp_path, capsys):
    first, last = _wav(tmp_path / "a.wav", 0.3), _wav(tmp_path / "b.wav", 0.3)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 24000)
    out = tmp_path / "out"
    code = main(["convert", str(first), str(empty), str(last), "--singer", "alto", "--model", str(model_path),
                 "--out", str(out)])
    assert code == 2
    _one_error(capsys, "convert", str(empty), "no audio")
    assert sorted(p.name for p in out.iterdir()) == ["a_alto.wav", "b_alto.wav"]


# ----- 11: preprocess names lengths right and lists what it ignores --------------------------------

def test_preprocess_reports_true_lengths_truncation_and_ignored_files(tmp_path):
    from types import SimpleNamespace

    from core.config import load_config
    from core.data.preprocess import ignored_files, ignored_summary, process_source
    from core.data.slicing import SliceSettings
    from core.errors import AudioFileError

    data = tmp_path / "data"
    (data / "alto").mkdir(parents=True)
    short = _wav(data / "alto" / "short.wav", 0.01)
    cut = _truncated_wav(data / "alto" / "cut.wav")
    (data / "alto" / "notes.txt").write_text("lyrics")
    (data / "README.md").write_text("corpus")
    (data / "alto" / ".DS_Store").write_bytes(b"")
    extractor = SimpleNamespace(cfg=load_config("tiny"))
    clips, reasons = process_source(short, "alto", "short.wav", tmp_path / "cache", extractor, 0, SliceSettings())
    assert clips == [] and reasons == ["shorter than 2.1 s (0.01 s)"]
    with pytest.raises(AudioFileError, match="truncated.*promises 2.00 s.*holds 0.67 s"):
        process_source(cut, "alto", "cut.wav", tmp_path / "cache", extractor, 0, SliceSettings())
    names = ignored_files(data)
    assert names == ["README.md", "alto/notes.txt"]
    assert ignored_summary(names) == (
        "ignored 2 file(s) that are not audio files inside DATA/<singer>/: README.md, alto/notes.txt")
    many = ignored_summary([f"f{i}.txt" for i in range(8)])
    assert many.endswith("f0.txt, f1.txt, f2.txt, f3.txt, f4.txt and 3 more")


# ----- 14: vocode works out of the box ------------------------------------------------------------

def test_vocode_without_vocoder_uses_the_default_model(tmp_path, capsys):
    from core.models import default_model_path

    if default_model_path() is None:
        pytest.skip("no shipped default model")
    source = _wav(tmp_path / "in.wav", 0.3)
    out = tmp_path / "o.wav"
    assert main(["vocode", str(source), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["vocoder"] and out.is_file() and sf.info(str(out)).frames > 0
