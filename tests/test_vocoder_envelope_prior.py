"""The built-in vocoder's envelope prior: what it reads off the mel, and how it enters the network."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from core.audio.mel import MelSpectrogram
from core.config import load_config
from core.errors import ModelFileError
from core.vocoder.builtin import BuiltinShape, BuiltinVocoder
from core.vocoder.envelope_prior import EnvelopePrior
from core.vocoder.files import load_vocoder_file, save_vocoder
from tests.test_vocoder_builtin import SMALL, inputs

RATE = 24000


def harmonic_tone(f0: float, amplitudes, seconds: float = 0.6) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(a * np.sin(2 * np.pi * k * f0 * t + k * k) for k, a in enumerate(amplitudes, 1)).astype(np.float32)


def prior_of(f0: float, amplitudes) -> torch.Tensor:
    audio = load_config("live").audio
    prior = EnvelopePrior(RATE, audio.n_fft, audio.n_mels, audio.fmin, audio.fmax, len(amplitudes), 8)
    log_mel = MelSpectrogram(audio)(torch.from_numpy(harmonic_tone(f0, amplitudes)))[None]
    frames = log_mel.shape[-1]
    gates = torch.ones(audio.n_mels)  # fully open: the prior itself, plus its constant offset
    return prior.harmonics(log_mel, torch.full((1, frames), f0), gates)[0, 10:frames - 10].mean(0)


@pytest.mark.parametrize("f0", [110.0, 330.0])
def test_the_prior_reads_each_harmonics_own_level(f0):
    # A spectral envelope with a 20 dB step at 2 kHz: the prior must show the step at the right
    # harmonic, and be flat on either side of it, whether the mel resolves the harmonics or not.
    count = int(10000 // f0)
    freqs = f0 * np.arange(1, count + 1)
    amplitudes = np.where(freqs < 2000, 0.02, 0.002)
    prior = prior_of(f0, amplitudes).numpy()
    low = prior[(freqs > 300) & (freqs < 1600)]
    high = prior[(freqs > 2600) & (freqs < 9000)]
    assert low.mean() - high.mean() == pytest.approx(1.0, abs=0.25)      # the 20 dB step, in log10
    assert low.std() < 0.15 and high.std() < 0.15


def test_the_prior_follows_level_exactly_and_pitch_roughly():
    base = prior_of(220.0, [0.01] * 40)
    louder = prior_of(220.0, [0.04] * 40)
    assert torch.allclose(louder - base, torch.full_like(base, np.log10(4.0)), atol=0.02)
    # The same amplitudes an octave lower read within 0.2 log10: the width term follows f0.
    lower = prior_of(110.0, [0.01] * 80)
    assert abs(float(lower[:40].mean() - base.mean())) < 0.2


def prior_shape() -> BuiltinShape:
    cfg = load_config("paper", {**SMALL, "vocoder.builtin_envelope_prior": True})
    return BuiltinShape.from_config(cfg.audio, cfg.vocoder)


def test_a_prior_added_gated_shut_changes_nothing_until_trained():
    cfg = load_config("paper", SMALL)
    vocoder = BuiltinVocoder.from_config(cfg.audio, cfg.vocoder)
    mel, f0 = inputs(60)
    before = vocoder.synthesize(mel, f0)
    upgraded = BuiltinVocoder(vocoder.model.with_envelope_prior(cfg.audio))
    assert upgraded.model.shape.envelope_prior
    scale = float(before.abs().max())
    assert torch.allclose(upgraded.synthesize(mel, f0), before, atol=1e-5 * scale)  # only float rounding
    with torch.no_grad():
        upgraded.model.net.prior_gates.fill_(0.02)  # every band's gate opened a little
    opened = upgraded.synthesize(mel, f0)
    assert not torch.allclose(opened, before, atol=1e-2 * scale)


def test_a_vocoder_with_the_prior_streams_exactly_and_round_trips(tmp_path):
    vocoder = BuiltinVocoder.from_config(*_configs(True))
    with torch.no_grad():
        vocoder.model.net.prior_gates.fill_(0.01)
    mel, f0 = inputs(90)
    whole = vocoder.synthesize(mel, f0)
    stream = vocoder.stream()
    pieces = [stream.process(mel[:, i:i + 7], f0[i:i + 7]) for i in range(0, 90, 7)]
    assert torch.allclose(torch.cat(pieces), whole, atol=1e-5 * max(1.0, float(whole.abs().max())))
    save_vocoder(tmp_path / "v.safetensors", vocoder)
    loaded = load_vocoder_file(tmp_path / "v.safetensors")
    assert loaded.model.shape == vocoder.model.shape
    assert torch.allclose(loaded.synthesize(mel, f0), whole)


def _configs(prior: bool):
    cfg = load_config("paper", {**SMALL, "vocoder.builtin_envelope_prior": prior})
    return cfg.audio, cfg.vocoder


def test_metadata_without_the_prior_fields_reads_as_no_prior_and_a_broken_one_is_refused():
    data = asdict(prior_shape())
    old = {k: v for k, v in data.items() if k not in ("envelope_prior", "n_fft", "fmin", "fmax")}
    assert BuiltinShape.from_dict(old).envelope_prior is False
    with pytest.raises(ModelFileError, match="n_fft"):
        BuiltinShape.from_dict({**data, "n_fft": 0})
    with pytest.raises(ModelFileError, match="lacks: channels"):
        BuiltinShape.from_dict({k: v for k, v in old.items() if k != "channels"})


def test_training_on_from_a_vocoder_without_the_prior_adds_it_and_opens_it(tmp_path):
    from core.train.vocoder import train_vocoder
    from tests.test_vocoder_builtin import _tone_files

    _tone_files(tmp_path)
    plain = tmp_path / "plain.safetensors"
    train_vocoder(tmp_path, plain, steps=5, config=load_config("paper", SMALL), log=None, held_out_every=1000)
    assert not load_vocoder_file(plain).model.shape.envelope_prior
    out = tmp_path / "prior.safetensors"
    cfg = load_config("paper", {**SMALL, "vocoder.builtin_envelope_prior": True, "train.log_every": 1000})
    train_vocoder(tmp_path, out, steps=10, config=cfg, log=None, held_out_every=1000, init=plain)
    trained = load_vocoder_file(out).model
    assert trained.shape.envelope_prior
    gates = trained.net.prior_gates.detach().abs()
    n_mels = trained.shape.n_mels
    assert float(gates[:n_mels].max()) > 0 and float(gates[n_mels:].max()) > 0  # harmonic and noise gates moved
