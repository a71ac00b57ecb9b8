"""scripts/make_real_training_voices.py: real recorded prompts, sung, in the layout preprocess reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import pyworld
import soundfile as sf

from core.data.corpus_spec import CorpusSpec
from core.errors import UserError

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_real_training_voices.py"


def _script():
    spec = importlib.util.spec_from_file_location("make_real_training_voices", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prompts_are_read_as_speech_and_joined_into_pieces():
    script = _script()
    for name, voice in script.VOICES.items():  # scripts/setup.sh installs the packages
        pieces, rate = script.speech_pieces(voice)
        assert len(pieces) >= 12, name
        assert rate == (8000 if voice.pattern == "*.gsm" else 44100), name
        lengths = np.array([len(p) for p in pieces]) / rate
        assert (lengths >= script.SPEECH_PER_CLIP_S).all() and np.median(lengths) < 3 * script.SPEECH_PER_CLIP_S
        level = np.sqrt(np.mean(pieces[0] ** 2))
        # decoded speech, not noise or silence (a lossy codec may overshoot full scale a little)
        assert 0.01 < level < 0.5 and np.abs(pieces[0]).max() <= 1.1, name


@pytest.mark.slow  # WORLD re-sings both voices (~16 s): used by the training recipe only, not by the app
def test_each_voice_is_sung_in_its_range(tmp_path):
    script = _script()
    assert script.main([str(tmp_path), "--clips", "1"]) == 0
    for name, voice in script.VOICES.items():
        low, high = voice.low_midi, voice.high_midi
        audio, rate = sf.read(tmp_path / name / "0.wav")
        assert rate == CorpusSpec().sample_rate and 2.5 <= len(audio) / rate <= 8.0 + 0.5
        f0, _ = pyworld.harvest(audio.astype(np.float64), rate, f0_floor=60.0, f0_ceil=1000.0, frame_period=10.0)
        voiced = f0[f0 > 0]
        assert len(voiced) > 50
        midi = 69 + 12 * np.log2(np.median(voiced) / 440.0)
        assert low - 1.5 <= midi <= high + 1.5, (name, midi)


def test_a_voice_whose_recordings_differ_in_rate_is_refused(tmp_path, capsys):
    """Mixed rates mean mixed sources (KTuberling's French words are three): one voice must be one speaker."""
    script = _script()
    tone = np.sin(np.arange(22050) * 0.05).astype(np.float32) * 0.1
    sf.write(tmp_path / "a.wav", tone, 22050)
    sf.write(tmp_path / "b.wav", tone[::2], 11025)
    voice = script.RealVoice(tmp_path, "*.wav", 50, 60, 0.3)
    with pytest.raises(UserError, match="11025 Hz"):
        script.speech_pieces(voice)
    script.VOICES = {"mixed": voice}
    assert script.main([str(tmp_path / "out"), "--voices", "mixed"]) != 0
    assert "11025 Hz" in capsys.readouterr().err
    (tmp_path / "b.wav").unlink()
    pieces, rate = script.speech_pieces(voice)
    assert rate == 22050 and pieces == []  # 1 s of speech, short of one 4.5 s piece
