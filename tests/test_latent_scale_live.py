"""`--latent-scale` for the live commands: the engine plays the student at that scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cli.main import main
from convert_fixtures import build_tiny_model, sung_tone


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
