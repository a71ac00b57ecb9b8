"""`--device`: one parser (core.device), every model-running command takes it, CPU results unchanged.

No GPU here: CUDA's presence is simulated by patching torch.cuda.is_available / device_count, and
nothing in these tests runs a CUDA kernel.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from cli.main import build_parser, main
from core.device import DEFAULT_DEVICE, device_choices, resolve_device
from core.errors import UserError
from tests.convert_fixtures import build_tiny_model, sung_tone


def _fake_gpus(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


def test_names_resolve_to_torch_devices(monkeypatch):
    _fake_gpus(monkeypatch, 0)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(None) == resolve_device(DEFAULT_DEVICE) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    _fake_gpus(monkeypatch, 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert device_choices() == ["cpu", "auto", "cuda", "cuda:0", "cuda:1"]


@pytest.mark.parametrize("name, gpus, says", [
    ("cuda", 0, "no CUDA GPU"),
    ("cuda:0", 0, "no CUDA GPU"),
    ("cuda:7", 2, "torch sees 2 CUDA GPU(s)"),
    ("garbage", 0, "unknown device 'garbage'"),
    ("cuda:-1", 1, "unknown device"),
    ("mps", 0, "not supported"),
])
def test_unusable_devices_are_one_clear_line(monkeypatch, name, gpus, says):
    _fake_gpus(monkeypatch, gpus)
    with pytest.raises(UserError, match=None) as info:
        resolve_device(name)
    message = str(info.value)
    assert says in message and "\n" not in message


@pytest.mark.parametrize("command", [
    ["convert", "in.wav", "--singer", "a"],
    ["live"],
    ["gui"],
    ["simulate", "in.wav"],
    ["vocode", "in.wav", "--out", "out.wav"],
    ["features", "in.wav"],
])
def test_every_model_command_takes_the_flag(command):
    parser = build_parser()
    assert parser.parse_args(command + ["--device", "cuda:1"]).device == "cuda:1"
    default = parser.parse_args(command).device
    assert default == (None if command[0] == "gui" else DEFAULT_DEVICE)  # gui: the window's setting


@pytest.mark.parametrize("command", [
    ["convert", "{wav}", "--singer", "alto", "--model", "{model}", "--out", "{tmp}"],
    ["simulate", "{wav}", "--model", "{model}"],
    ["vocode", "{wav}", "--out", "{tmp}/v.wav", "--vocoder", "griffin-lim"],
])
def test_commands_refuse_cuda_without_a_gpu(monkeypatch, capsys, tmp_path, model, command):
    import soundfile as sf

    _fake_gpus(monkeypatch, 0)
    wav = tmp_path / "in.wav"
    sf.write(wav, sung_tone(0.3), 24000)
    argv = [a.format(wav=wav, model=model.path, tmp=tmp_path) for a in command] + ["--device", "cuda"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"comosvc {command[0]}: error: device 'cuda'") and "\n" not in err
    assert not list(tmp_path.glob("in_*.wav")) and not (tmp_path / "v.wav").exists()


def test_cpu_conversion_equals_the_default(tmp_path, model):
    from core.convert import VoiceModel, convert_audio

    audio = sung_tone(0.6)
    default, _, _ = convert_audio(model, audio, 24000, "alto")
    on_cpu = VoiceModel.load(model.path, "cpu")
    assert on_cpu.device == torch.device("cpu")
    explicit, _, _ = convert_audio(on_cpu, audio, 24000, "alto")
    assert np.abs(default).max() > 1e-4
    np.testing.assert_array_equal(explicit, default)


def test_auto_moves_every_part_to_the_gpu_when_there_is_one(monkeypatch, model):
    """With CUDA 'present', make_converter asks every module to move there (the moves are recorded, not run)."""
    from core.convert import VoiceModel
    from realtime.model_converter import make_converter

    _fake_gpus(monkeypatch, 1)
    moved = []
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, device: moved.append((type(self).__name__, device)) or self)
    converter = make_converter(model.path, "auto")
    assert converter.model.device == torch.device("cuda") and converter.device == torch.device("cuda")
    names = {name for name, device in moved if device == torch.device("cuda")}
    assert {"AcousticModel", "BuiltinContentEncoder", "MelSpectrogram", "BuiltinVocoderModel"} <= names
    assert converter.model.vocoder.device == torch.device("cuda")
    assert "cuda" in converter.description
    assert VoiceModel.load(model.path).device == torch.device("cpu")  # the default stays on the CPU


BENCHES = [
    ("bench_acoustic", []),
    ("bench_quality", ["--sources", "x.wav", "--targets-dir", "x"]),
    ("bench_realtime", []),
    ("bench_stream", []),
    ("bench_vocoder", ["--data", "x"]),
]


@pytest.mark.parametrize("name, required", BENCHES)
def test_benches_take_the_flag_and_refuse_a_missing_gpu(monkeypatch, capsys, name, required):
    import importlib

    _fake_gpus(monkeypatch, 0)
    module = importlib.import_module(f"bench.{name}")
    monkeypatch.setattr(sys, "argv", [name] + required + ["--device", "cuda:0"])
    with pytest.raises(SystemExit) as info:
        module.main()
    assert info.value.code == 2
    assert "device 'cuda:0' asked for but torch sees no CUDA GPU" in capsys.readouterr().err


class _OneDevicePerOp(TorchDispatchMode):
    """Fails any op whose tensor inputs (0-d scalars aside) sit on two devices, except the explicit moves."""

    MOVES = {torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        flat, _ = tree_flatten((args, kwargs or {}))
        devices = {t.device for t in flat if isinstance(t, torch.Tensor) and t.dim() > 0}
        if len(devices) > 1 and func not in self.MOVES:
            raise AssertionError(f"{func} mixes devices {sorted(map(str, devices))}")
        return func(*args, **(kwargs or {}))


def push_on_another_device(model, steps="1", forget_moves=False) -> str:
    """One stream push with every module on the 'meta' device (shapes, no data), standing in for a GPU here.

    Returns the source line where it stopped: a per-block tensor left on the CPU stops it early (a mixed
    op, or a move of meta data); with everything on the device only the final copy to numpy can fail.
    """
    import traceback

    from core.convert import ConversionStream

    model.to(torch.device("meta"))
    stream = ConversionStream(model, lookahead_frames=4, max_block_frames=8, steps=steps)
    if forget_moves:
        stream._device = torch.device("cpu")  # as if the stream moved nothing to the model's device
    with pytest.raises(Exception) as info, _OneDevicePerOp():
        stream.push(sung_tone(0.1)[:1024])
    ours = [f for f in traceback.extract_tb(info.value.__traceback__)
            if "site-packages" not in f.filename and f.filename != __file__]
    return f"{type(info.value).__name__}: {ours[-1].line}"


@pytest.mark.parametrize("steps", ["1", "2", "teacher-2"])
def test_every_per_block_tensor_follows_the_model_device(monkeypatch, tmp_path, steps):
    from core.model.conditioning import ConditionInputs

    monkeypatch.setattr(ConditionInputs, "validate", lambda *args, **kwargs: None)  # reads values: meta has none
    model = build_tiny_model(tmp_path / "m.safetensors")
    assert push_on_another_device(model, steps) == \
        "NotImplementedError: return audio_out.detach().cpu().numpy().astype(np.float32, copy=False)"
    forgot = push_on_another_device(build_tiny_model(tmp_path / "m2.safetensors"), steps, forget_moves=True)
    assert "audio_out.detach().cpu()" not in forgot  # the check itself sees a tensor left behind


def _vocoder_step_on_another_device(monkeypatch, tmp_path, forget_batch_move=False) -> str:
    """One `train_vocoder` step with 'meta' standing in for a GPU; the source line where it stopped.

    With every tensor of the step on the device, only reading a value back (meta has none) can stop it.
    """
    import traceback

    from core.audio.io import save_audio
    from core.train import vocoder as trainer
    from tests.convert_fixtures import tiny_config

    for name in ("a", "b"):
        save_audio(tmp_path / f"{name}.wav", sung_tone(1.0), 24000)
    monkeypatch.setattr("core.device.resolve_device", lambda name: torch.device("meta"))
    if forget_batch_move:
        monkeypatch.setattr(trainer.Batch, "to", lambda self, device: self)
    config = tiny_config().replace({"vocoder.train_batch_size": 2, "vocoder.train_crop_frames": 16,
                                    "vocoder.train_warmup_frames": 4})
    with pytest.raises(Exception) as info, _OneDevicePerOp():
        trainer.train_vocoder(tmp_path, tmp_path / "v.safetensors", 1, config, log=None, device="cuda")
    ours = [f for f in traceback.extract_tb(info.value.__traceback__)
            if "site-packages" not in f.filename and f.filename != __file__]
    return f"{type(info.value).__name__}: {ours[-1].line}"


def test_vocoder_training_runs_its_steps_on_the_device(monkeypatch, tmp_path):
    stopped = _vocoder_step_on_another_device(monkeypatch, tmp_path / "moved")
    assert "mixes devices" not in stopped and "fine.any()" in stopped  # the first value read back
    forgot = _vocoder_step_on_another_device(monkeypatch, tmp_path / "forgot", forget_batch_move=True)
    assert "fine.any()" not in forgot  # the check itself sees the crops left on the CPU


def test_train_vocoder_takes_the_device_flag_and_refuses_a_missing_gpu(monkeypatch, capsys, tmp_path):
    _fake_gpus(monkeypatch, 0)
    parser = build_parser()
    assert parser.parse_args(["train", "vocoder", "x", "--out", "v"]).device == "auto"
    assert not hasattr(parser.parse_args(["train", "vocoder", "x", "--out", "v"]), "amp")
    assert main(["train", "vocoder", str(tmp_path), "--out", str(tmp_path / "v.safetensors"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "device 'cuda' asked for but torch sees no CUDA GPU" in err and "\n" not in err
    assert not (tmp_path / "v.safetensors").exists()
