"""`--latent-scale` for the live commands: the engine plays the student at that scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cli.main import main
from convert_fixtures import build_tiny_model, sung_tone
from core.convert import VoiceModel
from core.errors import UserError


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("latent_live") / "tiny.safetensors"
    build_tiny_model(path)
    return path


def test_the_live_commands_load_the_model_with_the_scale_asked_for(model_path: Path, tmp_path: Path) -> None:
    from cli.commands.simulate import make_converter

    scale = lambda converter: converter.model.generator.schedule.student_latent_scale  # noqa: E731
    assert scale(make_converter(str(model_path))) == 0.6  # the tiny model's own, as live.yaml's
    assert scale(make_converter(str(model_path), None, 1.0)) == 1.0
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(1.5, 48000), 48000)
    out = tmp_path / "out.wav"
    assert main(["simulate", str(source), "--model", str(model_path), "--singer", "alto", "-o", str(out),
                 "--latent-scale", "1"]) == 0
    played = sf.read(out)[0]
    assert np.isfinite(played).all() and np.abs(played).max() > 0


@pytest.mark.parametrize("extra, message", [
    (["--latent-scale", "-0.5"], "latent scale must be a number >= 0"),
    (["--model", "stand-in", "--latent-scale", "0.5"], "has none"),
])
def test_a_latent_scale_that_cannot_apply_is_one_line(model_path: Path, tmp_path: Path, capsys, extra, message):
    source = tmp_path / "in.wav"
    sf.write(source, sung_tone(0.5, 48000), 48000)
    args = ["simulate", str(source), "-o", str(tmp_path / "o.wav")]
    if "--model" not in extra:
        args += ["--model", str(model_path)]
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.wav").exists()


def _played(model_path: Path, audio: np.ndarray, controls: dict, on_engine=None):
    from realtime.model_converter import ModelConverter
    from realtime.presets import load_preset
    from realtime.simulate import simulate

    converter = ModelConverter(VoiceModel.load(model_path))
    _report, played = simulate(converter, load_preset("balanced"), audio, 48000, controls={"singer": "alto", **controls},
                               compute_ms=1.0, compare=False, on_engine=on_engine)
    return converter, played


def test_the_engine_control_sets_the_scale_and_none_returns_to_the_models_own(model_path: Path) -> None:
    """What the window's noise-scale control does: a scale while playing, and back to the model's own."""
    audio = sung_tone(1.0, 48000)
    _, own = _played(model_path, audio, {})
    _, own_by_value = _played(model_path, audio, {"latent_scale": 0.6})  # the tiny model's own, asked for
    converter, paper = _played(model_path, audio, {"latent_scale": 1.0})
    assert np.array_equal(own, own_by_value)
    # the scale reaches what is played (the tiny model's random student hears its latent only faintly)
    assert np.abs(paper - own).max() > 1e-3 * np.abs(own).max() > 0
    assert converter.model.generator.schedule.student_latent_scale == 1.0
    assert converter.own_latent_scale == 0.6  # still shown as the model's own
    back, _ = _played(model_path, audio, {"latent_scale": 1.0},
                      on_engine=lambda engine: engine.set_latent_scale(None))
    assert back.model.generator.schedule.student_latent_scale == 0.6


def test_the_engine_refuses_a_scale_it_cannot_use(model_path: Path) -> None:
    from realtime.engine import Engine
    from realtime.engine_process import engine_info
    from realtime.model_converter import ModelConverter
    from realtime.presets import load_preset
    from realtime.simulator import SimulatedBackend
    from realtime.standin import StandInConverter

    audio = sung_tone(0.5, 48000)
    engines = {name: Engine(converter, load_preset("balanced"), SimulatedBackend(audio, samplerate=48000, blocksize=256))
               for name, converter in (("model", ModelConverter(VoiceModel.load(model_path))),
                                       ("stand-in", StandInConverter()))}
    for bad in (-0.1, float("nan")):
        with pytest.raises(UserError, match="latent scale must be a number >= 0"):
            engines["model"].set_latent_scale(bad)
    with pytest.raises(UserError, match="has none"):
        engines["stand-in"].set_latent_scale(0.5)
    engines["stand-in"].set_latent_scale(None)  # "the model's own" is always accepted
    assert engine_info(engines["model"])["own_latent_scale"] == 0.6
    assert engine_info(engines["stand-in"])["own_latent_scale"] is None
