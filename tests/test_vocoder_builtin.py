"""Built-in harmonic-plus-noise vocoder: exact streaming, pitch from f0, files, training."""

import numpy as np
import pytest
import soundfile as sf
import torch

from core.checkpoint import save_model_file, with_prefix
from core.config import load_config
from core.errors import ModelFileError
from core.vocoder.builtin import BuiltinVocoder
from core.vocoder.files import embed_vocoder, load_vocoder_file, save_vocoder
from core.vocoder.noise import hash_noise

SMALL = {"vocoder.builtin_channels": 32, "vocoder.builtin_layers": 3, "vocoder.builtin_harmonics": 24,
         "vocoder.builtin_noise_bands": 8, "vocoder.train_batch_size": 4, "vocoder.train_crop_frames": 24,
         "vocoder.train_warmup_frames": 4}


def small_vocoder() -> BuiltinVocoder:
    cfg = load_config("paper", SMALL)
    return BuiltinVocoder.from_config(cfg.audio, cfg.vocoder)


def inputs(frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    mel = torch.randn(80, frames) - 3.0
    f0 = 180.0 + 40.0 * torch.sin(torch.arange(frames) / 9.0)
    f0[frames // 3 : frames // 3 + 7] = 0.0  # an unvoiced gap
    return mel, f0


def test_hash_noise_does_not_depend_on_how_indices_are_cut():
    index = torch.arange(1000, 5000)
    whole = hash_noise(index)
    pieces = torch.cat([hash_noise(index[:123]), hash_noise(index[123:])])
    assert torch.equal(whole, pieces)
    assert abs(float(whole.mean())) < 0.05 and 0.5 < float(whole.std()) < 0.65
    assert not torch.equal(hash_noise(index, seed=1), whole)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stream_in_random_blocks_equals_whole(seed):
    vocoder = small_vocoder()
    mel, f0 = inputs(150)
    whole = vocoder.synthesize(mel, f0)
    rng = np.random.default_rng(seed)
    stream, pieces, i = vocoder.stream(), [], 0
    while i < mel.shape[1]:
        n = int(rng.integers(1, 25))
        pieces.append(stream.process(mel[:, i : i + n], f0[i : i + n]))
        i += n
    blocks = torch.cat(pieces)
    assert blocks.shape == whole.shape == (150 * 128,)
    assert torch.allclose(blocks, whole, atol=1e-5 * max(1.0, float(whole.abs().max())))
    stream.reset()
    assert torch.allclose(stream.process(mel[:, :10], f0[:10]), whole[: 10 * 128], atol=1e-6)


def test_pitch_follows_the_given_f0():
    vocoder = small_vocoder()
    with torch.no_grad():  # make harmonics loud and noise quiet, as a trained model would on a vowel
        bias = vocoder.model.net.conv_out.bias
        bias[: vocoder.model.shape.n_harmonics] = 1.0
        bias[vocoder.model.shape.n_harmonics :] = -8.0
    mel = torch.zeros(80, 200) - 3.0
    for hz in (150.0, 237.0):
        audio = vocoder.synthesize(mel, torch.full((200,), hz)).numpy()[4000:]
        spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
        freqs = np.fft.rfftfreq(len(audio), 1 / 24000)
        strongest = freqs[np.argmax(spectrum * (freqs < 1.5 * hz))]  # below the 2nd harmonic
        assert abs(strongest - hz) < 3.0


def test_unvoiced_frames_have_no_harmonics():
    vocoder = small_vocoder()
    with torch.no_grad():
        vocoder.model.net.conv_out.bias[:] = -30.0  # noise off too: only harmonics could sound
        vocoder.model.net.conv_out.bias[: vocoder.model.shape.n_harmonics] = 1.0
    mel = torch.zeros(80, 60) - 3.0
    f0 = torch.full((60,), 200.0)
    f0[20:40] = 0.0
    audio = vocoder.synthesize(mel, f0)
    # Frames 21..39 are unvoiced on both sides of every ramp.
    assert float(audio[21 * 128 : 39 * 128].abs().max()) < 1e-5
    assert float(audio[5 * 128 : 15 * 128].abs().max()) > 1e-2


def test_file_round_trip_and_embedding(tmp_path):
    vocoder = small_vocoder()
    mel, f0 = inputs(40)
    expected = vocoder.synthesize(mel, f0)
    save_vocoder(tmp_path / "v.safetensors", vocoder)
    assert torch.allclose(load_vocoder_file(tmp_path / "v.safetensors").synthesize(mel, f0), expected)
    state, meta = embed_vocoder(vocoder)
    assert meta["architecture"] == "builtin-hn" and "vocoder.net.conv_in.weight" not in state
    other = {"student.w": torch.zeros(3)}
    save_model_file(tmp_path / "model.safetensors", {**with_prefix(state, "vocoder"), **other},
                    {"kind": "model", "vocoder": meta})
    assert torch.allclose(load_vocoder_file(tmp_path / "model.safetensors").synthesize(mel, f0), expected)
    save_model_file(tmp_path / "bare.safetensors", other, {"kind": "model"})
    with pytest.raises(ModelFileError):
        load_vocoder_file(tmp_path / "bare.safetensors")


def test_bad_input_shapes_are_clear():
    vocoder = small_vocoder()
    with pytest.raises(ValueError, match="log_mel"):
        vocoder.synthesize(torch.zeros(40, 10), torch.zeros(10))
    with pytest.raises(ValueError, match="f0"):
        vocoder.synthesize(torch.zeros(80, 10), torch.zeros(9))


def _tone_files(folder, count=3, seconds=1.0):
    sr = 24000
    t = np.arange(int(sr * seconds)) / sr
    for i in range(count):
        f = 150.0 + 60.0 * i + 20.0 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f) / sr
        audio = sum(0.3 / k * np.sin(k * phase) for k in range(1, 12)) * 0.5
        audio += 0.01 * np.random.default_rng(i).standard_normal(len(t))
        sf.write(folder / f"tone{i}.wav", audio.astype(np.float32), sr)


def test_a_few_training_steps_lower_the_loss(tmp_path):
    from core.train.vocoder import find_audio_files, prepare, sample_batch, train_vocoder, vocoder_loss
    from core.audio.mel import MelSpectrogram
    from core.vocoder.stft_loss import MultiResolutionSTFTLoss

    _tone_files(tmp_path)
    cfg = load_config("paper", {**SMALL, "train.log_every": 1000})
    data = prepare(find_audio_files(tmp_path), cfg)
    batch = sample_batch(data, 4, 24, 4, 128, np.random.default_rng(5))
    stft, mel = MultiResolutionSTFTLoss(), MelSpectrogram(cfg.audio)

    def loss_of(vocoder):
        with torch.no_grad():
            return float(vocoder_loss(vocoder.model, batch, 4, stft, mel)[0])

    out = tmp_path / "voc.safetensors"
    summary = train_vocoder(tmp_path, out, steps=25, config=cfg, log=None, held_out_every=1000)
    trained = load_vocoder_file(out)
    untrained = BuiltinVocoder.from_config(cfg.audio, cfg.vocoder)
    assert summary["steps"] == 25 and out.is_file()
    assert loss_of(trained) < 0.9 * loss_of(untrained)


def test_training_data_errors_are_user_errors(tmp_path):
    from core.errors import UserError
    from core.train.vocoder import find_audio_files, split_held_out, train_vocoder

    with pytest.raises(UserError, match="not found"):
        train_vocoder(tmp_path / "nowhere", tmp_path / "v.safetensors", steps=1, log=None)
    with pytest.raises(UserError, match="no audio files"):
        find_audio_files(tmp_path)
    files = [tmp_path / f"{i:02d}.wav" for i in range(25)]
    train, held = split_held_out(files, every=10)
    assert len(held) == 2 and not set(train) & set(held) and len(train) + len(held) == 25
    assert not (tmp_path / "v.safetensors").exists()


def test_vocode_command_with_a_vocoder_file(tmp_path, capsys):
    import json

    from cli.main import main

    save_vocoder(tmp_path / "v.safetensors", small_vocoder())
    _tone_files(tmp_path, count=1, seconds=0.5)
    out = tmp_path / "out.wav"
    code = main(["vocode", str(tmp_path / "tone0.wav"), "--out", str(out), "--vocoder", str(tmp_path / "v.safetensors"),
                 "--key", "3", "--json"])
    assert code == 0 and out.is_file()
    report = json.loads(capsys.readouterr().out)
    assert report["vocoder"] == "builtin" and abs(report["seconds_audio"] - 0.5) < 0.01


def test_embedding_through_the_whole_model_file_writer(tmp_path):
    from core.model.model_file import save_model

    vocoder = small_vocoder()
    state, meta = embed_vocoder(vocoder)
    save_model(tmp_path / "model.safetensors", load_config("tiny"), ["a"], extra_parts={"vocoder": state},
               extra_metadata={"vocoder": meta})
    mel, f0 = inputs(30)
    loaded = load_vocoder_file(tmp_path / "model.safetensors")
    assert torch.allclose(loaded.synthesize(mel, f0), vocoder.synthesize(mel, f0))


def test_training_files_are_found_through_linked_singer_folders(tmp_path):
    """A corpus of symlinked singer folders (how scripts/train_default_model.sh holds singers out) is searched."""
    from core.train.vocoder import find_audio_files

    real = tmp_path / "real" / "alto"
    real.mkdir(parents=True)
    for name in ("b.wav", "a.flac", "notes.txt"):
        (real / name).write_bytes(b"")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "alto").symlink_to(real, target_is_directory=True)
    assert [p.name for p in find_audio_files(corpus)] == ["a.flac", "b.wav"]
