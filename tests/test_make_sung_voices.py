"""bench/make_sung_voices.py: the held-out real voices, each one speaker, sung in its range."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyworld
import soundfile as sf

from tests.bench_scripts import load_bench


def _median_midi(audio: np.ndarray, rate: int) -> float:
    f0, _ = pyworld.harvest(audio.astype(np.float64), rate, f0_floor=60.0, f0_ceil=1000.0, frame_period=10.0)
    voiced = f0[f0 > 0]
    assert len(voiced) > 30
    return float(69 + 12 * np.log2(np.median(voiced) / 440.0))


def test_every_voice_is_installed_and_the_fish_are_told_apart_by_their_file_names():
    script = load_bench("make_sung_voices")
    for name, (files, _, _) in script.VOICES.items():  # scripts/setup.sh installs the packages
        assert files and all(path.is_file() for path in files), name
    small, big = script._fillets_lines("cs", "m"), script._fillets_lines("cs", "v")
    assert len(small) == len(big) == script.FILLETS_FILES and not set(small) & set(big)
    # the small fish speaks higher than the big one: a file of the wrong fish would show here
    speech_small = [_median_midi(*sf.read(path, dtype="float32")) for path in small[:4]]
    speech_big = [_median_midi(*sf.read(path, dtype="float32")) for path in big[:4]]
    assert min(speech_small) > max(speech_big) + 3


@pytest.mark.slow  # WORLD re-sings three voices (~25 s): the held-out sets are made once, not by the app
def test_each_voice_is_sung_in_its_range_and_the_melody_is_written(tmp_path):
    script = load_bench("make_sung_voices")
    # a small and a big fish (one of each language) and one Asterisk voice: singing all of them would only
    # repeat the same path (the fish are told apart by the test above)
    script.VOICES = {name: voice for name, voice in script.VOICES.items()
                     if name in ("fillets_cs_small", "fillets_nl_big", "carlo_male")}
    assert script.main([str(tmp_path), "--clips", "1", "--seconds", "3"]) == 0
    melodies = json.loads((tmp_path / "voices.json").read_text())
    for name, (_, low, high) in script.VOICES.items():
        audio, rate = sf.read(tmp_path / f"{name}_0.wav")
        assert rate == script.RATE and abs(len(audio) - 3 * rate) <= script.HOP
        assert low - 1.5 <= _median_midi(audio, rate) <= high + 1.5, name
        f0 = np.array(melodies[f"{name}_0.wav"]["f0"])
        assert melodies[f"{name}_0.wav"]["voice"] == name and abs(len(f0) - len(audio) / script.HOP) <= 2
        sung = f0[f0 > 0]
        assert low - 0.5 <= 69 + 12 * np.log2(np.median(sung) / 440.0) <= high + 0.5, name
