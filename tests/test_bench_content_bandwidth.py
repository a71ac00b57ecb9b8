"""bench/bench_content_bandwidth.py on a tiny model and synthetic full-band and band-limited voices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.audio.io import save_audio
from tests.bench_scripts import load_bench
from tests.convert_fixtures import build_tiny_model, sung_tone

RATE = 24000


@pytest.fixture()
def bench():
    return load_bench("bench_content_bandwidth")


def _full_band(seconds: float = 1.0) -> np.ndarray:
    noise = 0.05 * np.random.default_rng(0).standard_normal(int(seconds * RATE))
    return (sung_tone(seconds, RATE) + noise).astype(np.float32)


def test_code_shift_is_zero_for_the_same_code_and_scales_with_the_change(bench):
    full = np.random.default_rng(1).standard_normal((50, 8))
    assert bench.code_shift(full, full) == 0.0
    spread = np.linalg.norm(full - full.mean(0), axis=1).mean()
    moved = full.copy()
    moved[:, 0] += 2.0  # every frame 2 away
    assert bench.code_shift(full, moved) == pytest.approx(2.0 / spread)


def test_the_low_pass_empties_the_band_above_its_cut_off(bench):
    audio = _full_band()
    assert bench.power_share_above(audio, RATE, 4000.0) > 0.02
    cut = bench.low_passed(audio, RATE, 4000.0)
    assert cut.shape == audio.shape and bench.power_share_above(cut, RATE, 4400.0) < bench.EMPTY_BAND_SHARE
    assert bench.power_share_above(cut, RATE, 100.0) > 0.5  # what lies below is kept


def test_every_model_gets_a_figure_per_cut_off_and_a_deeper_cut_moves_the_code_more(bench, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    build_tiny_model(model)
    source = tmp_path / "full.wav"
    save_audio(source, _full_band(), RATE)
    code = bench.main(["--models", str(model), "--sources", str(source), "--cutoffs", "3000", "10000", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    figures = result["models"][str(model)]
    assert set(figures) == {"3000", "10000"} and list(figures["3000"]["per_source"]) == [str(source)]
    assert figures["3000"]["mean"] > figures["10000"]["mean"] > 0.0


def test_a_source_with_nothing_above_the_cut_off_is_left_out_or_one_clear_error(bench, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    build_tiny_model(model)
    telephone = tmp_path / "telephone.wav"
    save_audio(telephone, bench.low_passed(_full_band(), RATE, 3500.0), RATE)
    code = bench.main(["--models", str(model), "--sources", str(telephone), "--cutoffs", "8000"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.count("\n") == 0 and "anything above 8000 Hz" in err
    # Beside a full-band source, it is left out at that cut-off, and said so.
    full = tmp_path / "full.wav"
    save_audio(full, _full_band(), RATE)
    code = bench.main(["--models", str(model), "--sources", str(telephone), str(full), "--cutoffs", "8000", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and list(result["models"][str(model)]["8000"]["per_source"]) == [str(full)]
    assert result["skipped"] == [f"{telephone} at 8000 Hz"]


def test_a_cut_off_at_the_models_nyquist_frequency_is_refused(bench, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    build_tiny_model(model)
    source = tmp_path / "full.wav"
    save_audio(source, _full_band(), RATE)
    assert bench.main(["--models", str(model), "--sources", str(source), "--cutoffs", "12000"]) != 0
    assert "Nyquist" in capsys.readouterr().err
