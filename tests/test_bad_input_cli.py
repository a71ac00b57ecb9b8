"""Issue #16 part B: bad input to corpus, train, live, latency and devices gets one clear line and exit 2."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import soundfile as sf

from cli.main import build_parser, main
from tests.test_realtime_jack import RATE, jack_server  # noqa: F401 - the JACK dummy-server fixture

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


@pytest.mark.parametrize("option", [["--amp"], ["--batch-size", "8"]])
def test_vocoder_stage_refuses_options_it_would_ignore(tmp_path, option):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["train", "vocoder", str(tmp_path), "--out", "v", *option])
    assert stop.value.code == 2


def test_corpus_error_is_the_only_line_a_shell_sees(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cli.main", "corpus"], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "comosvc corpus: error: give the output folder OUT (only --list-singers needs none)"]


# --- live, latency, devices ------------------------------------------------------------------------------------


def _cli(argv, env, timeout=60):
    return subprocess.run([sys.executable, "-m", "cli.main", *argv], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_no_audio_device_names_the_default_meant(tmp_path):
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"comosvc_absent_{uuid.uuid4().hex[:8]}"}
    listing = json.loads(_cli(["devices", "--json"], env).stdout)
    if listing["devices"]:
        pytest.skip("this machine has audio devices")
    for argv in (["live", "--duration", "1", "--record", str(tmp_path / "rec")], ["latency"]):
        result = _cli(argv, env)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"comosvc {argv[0]}: error: "), lines
        assert "the default input device (none available)" in lines[0] and "comosvc devices" in lines[0]
        assert "None" not in lines[0]
    assert not (tmp_path / "rec").exists()


def test_a_missing_device_is_named_before_torch_loads_and_a_bad_preset_before_the_device():
    """Seconds of imports and a model load are not spent to say that there is no sound card; a wrong preset
    name, an option like any other, is still the first thing named."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"comosvc_absent_{uuid.uuid4().hex[:8]}"}
    if json.loads(_cli(["devices", "--json"], env).stdout)["devices"]:
        pytest.skip("this machine has audio devices")
    run_and_tell = "import sys; from cli.main import main; code = main(sys.argv[1:]); print('torch' in sys.modules); " \
                   "sys.exit(code)"
    for command in ("live", "latency"):
        result = subprocess.run([sys.executable, "-c", run_and_tell, command], cwd=REPO, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2 and "(none available)" in result.stderr, result.stderr
        assert result.stdout.strip() == "False"  # torch was never imported
        wrong = _cli([command, "--preset", "nosuch", "--input", "nosuchdev"], env)
        assert wrong.returncode == 2 and "unknown preset 'nosuch'" in wrong.stderr, wrong.stderr


@pytest.mark.jack
def test_jack_device_refusing_the_rate_is_one_line_with_the_rate_it_takes(jack_server, capsys, tmp_path):
    env, device = jack_server
    for command in ("live", "latency"):
        argv = [command, "--input", str(device), "--output", str(device), "--samplerate", "44100"]
        assert main(argv + (["--record", str(tmp_path / "rec")] if command == "live" else [])) == 2
        line = one_error_line(capsys, command)
        assert f"device #{device} 'system' refuses 44100 Hz" in line and f"{RATE} Hz" in line
    assert not (tmp_path / "rec").exists()


@pytest.mark.jack
def test_device_name_that_matches_nothing_is_one_line(jack_server, capsys):
    assert main(["live", "--input", "no-such-microphone", "--duration", "1"]) == 2
    assert "no input device matches 'no-such-microphone'" in one_error_line(capsys, "live")
    assert main(["latency", "--output", "no-such-speaker"]) == 2
    assert "no output device matches 'no-such-speaker'" in one_error_line(capsys, "latency")


@pytest.mark.jack
def test_live_start_line_names_the_singer_when_none_was_chosen(jack_server, capsys):
    from realtime.model_converter import make_converter

    env, device = jack_server
    first = make_converter(None).singers[0]
    assert main(["live", "--input", str(device), "--output", str(device), "--samplerate", str(RATE),
                 "--preset", "safe", "--duration", "0.5"]) == 0
    start = capsys.readouterr().out.splitlines()[0]
    assert f"singer {first} (the first; --singer picks another)" in start


# The JACK server vanishing: PortAudio cannot stop or terminate after that, so each case runs in a process of its own.

_BACKEND_SCRIPT = """
import os
import sys
import time
from realtime.devices import SoundDeviceBackend
from realtime.engine import Engine
from realtime.presets import load_preset
from realtime.standin import StandInConverter

backend = SoundDeviceBackend("system", "system", 48000)
engine = Engine(StandInConverter(), load_preset("safe").with_changes(output_margin_ms=400.0), backend)
if sys.argv[1] == "before-open":
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        engine.start()
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
else:
    engine.start()
    engine.start_recording(sys.argv[2])
    deadline = time.monotonic() + 20
    while os.path.getsize(os.path.join(sys.argv[2], "output.wav")) < 48000 and time.monotonic() < deadline:
        time.sleep(0.05)  # until some audio is on disk
    print("ready", flush=True)
    sys.stdin.readline()
    ended = backend.wait(10)
    engine.stop()
    print(f"ended {ended}: {backend.lost}", flush=True)
"""


@contextlib.contextmanager
def private_jack_server():
    """A JACK dummy server of this test's own, to kill; yields the environment that points at it."""
    from tests.test_realtime_jack import start_dummy_jack

    if not shutil.which("jackd"):
        pytest.skip("jackd is not installed")
    name = f"comosvc_kill_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "PYTHONPATH": str(REPO)}
    server = start_dummy_jack(name, env)
    try:
        yield env, server
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait(timeout=10)


def _run_until_ready_then_kill(script_args, env, server):
    child = subprocess.Popen([sys.executable, "-c", _BACKEND_SCRIPT, *script_args], cwd=REPO, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        server.terminate()
        server.wait(timeout=10)
        out, err = child.communicate("\n", timeout=30)  # a hang here would be PortAudio stopping a dead stream
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, out, err


@pytest.mark.jack
def test_jack_server_gone_before_the_stream_opens_is_one_line_and_a_clean_exit():
    with private_jack_server() as (env, server):
        code, out, err = _run_until_ready_then_kill(["before-open"], env, server)
    assert code == 0, err  # PortAudio's exit handler used to abort here (an assertion in its JACK host API)
    assert out.startswith("UserError: cannot open device #") and "JACK server" in out
    assert "Expression" not in err and "Assertion" not in err  # PortAudio's own diagnostics stay quiet


@pytest.mark.jack
def test_jack_server_killed_mid_run_ends_the_stream_and_closes_the_recording(tmp_path):
    with private_jack_server() as (env, server):
        code, out, err = _run_until_ready_then_kill(["mid-run", str(tmp_path / "rec")], env, server)
    assert code == 0, err
    assert out.startswith("ended True: device #") and "stopped delivering audio" in out
    for name in ("input.wav", "output.wav"):
        info = sf.info(str(tmp_path / "rec" / name))  # a readable header: the file was closed
        assert info.frames > 0


@pytest.mark.jack
@pytest.mark.slow  # loads the default model in a fresh process: ~10 s
def test_live_command_ends_with_one_line_when_the_jack_server_dies(tmp_path):
    rec = tmp_path / "rec"
    with private_jack_server() as (env, server):
        child = subprocess.Popen([sys.executable, "-m", "cli.main", "live", "--input", "system", "--output", "system",
                                  "--samplerate", str(RATE), "--preset", "safe", "--duration", "60", "--record",
                                  str(rec), "--json"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not (rec / "output.wav").exists() or (rec / "output.wav").stat().st_size < 48000:
                assert time.monotonic() < deadline and child.poll() is None, child.stderr.read()
                time.sleep(0.1)
            server.terminate()
            server.wait(timeout=10)
            out, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == 2, err
    errors = [line for line in err.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1 and errors[0].startswith("comosvc live: error: device #"), err
    assert "stopped delivering audio" in errors[0] and str(rec) in errors[0]
    assert "Assertion" not in err and out == ""
    assert sf.info(str(rec / "output.wav")).frames > 0


@pytest.mark.jack
def test_sigterm_ends_live_like_ctrl_c_and_closes_the_recording(jack_server, tmp_path, capsys):
    env, device = jack_server
    rec = tmp_path / "rec"

    def terminate_once_recording() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                (rec / "output.wav").exists() and (rec / "output.wav").stat().st_size > 96000):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    def safety_net(signum, frame):  # if the signal came before live took it over: fail the test, not pytest
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, safety_net)
    try:
        threading.Thread(target=terminate_once_recording, daemon=True).start()
        code = main(["live", "--input", str(device), "--output", str(device), "--samplerate", str(RATE),
                     "--preset", "safe", "--duration", "60", "--record", str(rec)])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 128 + signal.SIGTERM
    assert f"wrote {rec / 'output.wav'}" in capsys.readouterr().out
    for name in ("input.wav", "output.wav"):
        assert sf.info(str(rec / name)).frames >= 24000  # the header counts what was written: closed properly


@pytest.mark.parametrize("argv, option", [
    (["live", "--gate", "3"], "--gate"),
    (["live", "--samplerate", "0"], "--samplerate"),
    (["live", "--device-block", "0"], "--device-block"),
    (["live", "--duration", "-1"], "--duration"),
    (["latency", "--samplerate", "1000000"], "--samplerate"),
    (["latency", "--device-block", "100000"], "--device-block"),
])
def test_impossible_live_options_are_one_line_before_any_device_opens(argv, option, capsys):
    assert main(argv) == 2
    assert option in one_error_line(capsys, argv[0])


def test_train_all_on_a_folder_without_singers_leaves_no_output_folder(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    assert main(["train", "all", str(data), str(out), "--threads", "1", "--no-progress"]) == 2
    assert "no singer folders" in one_error_line(capsys, "train")
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    assert main(["train", "all", str(data), str(kept), "--threads", "1", "--no-progress"]) == 2
    assert kept.is_dir()  # a folder the user had is never removed


def test_device_index_without_channels_of_that_kind_or_out_of_range(monkeypatch):
    from core.errors import UserError
    from realtime import device_query
    from realtime.device_query import DeviceInfo

    speakers = DeviceInfo(0, "Speakers", "ALSA", 0, 2, 48000.0, False, True)
    microphone = DeviceInfo(1, "USB Mic", "ALSA", 1, 0, 44100.0, True, False)
    monkeypatch.setattr(device_query, "list_devices", lambda: [speakers, microphone])
    assert device_query.resolve_device("1", "input") == 1 and device_query.resolve_device("0", "output") == 0
    with pytest.raises(UserError, match="device #0 'Speakers' has no input channels"):
        device_query.resolve_device("0", "input")
    with pytest.raises(UserError, match=r"no audio device #5 \(PortAudio lists #0 to #1\)"):
        device_query.resolve_device(5, "output")
    with pytest.raises(UserError, match="no output device matches 'mic'"):
        device_query.resolve_device("mic", "output")


@pytest.mark.parametrize("stage", ["teacher", "student", "vocoder", "all"])
def test_training_output_that_cannot_be_written_is_refused_before_training(stage, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    folder = tmp_path / "a-folder"
    folder.mkdir()
    unwritable = "/proc/comosvc-no/out.safetensors" if stage != "all" else "/proc/comosvc-no"
    extra = ["--teacher", str(tmp_path / "t.safetensors")] if stage == "student" else []
    for out, words in ((unwritable, "cannot"), (str(folder), "is a folder")):
        if stage == "all" and out == str(folder):
            continue  # OUT is a folder by design
        argv = [stage, str(data), out, *extra] if stage == "all" else [stage, str(data), "--out", out, *extra]
        assert main(["train", *argv, "--threads", "1"]) == 2
        assert words in one_error_line(capsys, "train")
    assert list(data.iterdir()) == [] and list(folder.iterdir()) == []


def test_corpus_output_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    assert main(["corpus", "/proc/comosvc-no", "--singers", "1", "--clips-per-singer", "1"]) == 2
    assert "cannot write to OUT /proc/comosvc-no" in one_error_line(capsys, "corpus")
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["corpus", str(afile), "--singers", "1", "--clips-per-singer", "1"]) == 2
    assert "is a file, not a folder" in one_error_line(capsys, "corpus")


def test_live_record_folder_that_cannot_be_written_is_refused_before_devices(capsys):
    assert main(["live", "--record", "/proc/comosvc-no", "--duration", "1"]) == 2
    assert "cannot write to --record /proc/comosvc-no" in one_error_line(capsys, "live")
