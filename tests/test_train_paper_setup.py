"""`train all --config paper --content C --vocoder V`: the paper's set-up end to end, on tiny random
checkpoints written in the published layouts (ContentVec fairseq .pt, M4Singer NSF-HiFiGAN .ckpt),
imported with the CLI, trained for a few steps with tiny sizes, then converted, streamed and simulated."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cli.main import main
from tests.test_content_hubert import HIDDEN, hf_state, write_fairseq
from tests.test_data_fixtures import MICRO, make_corpus
from tests.test_vocoder_nsf import write_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")

# Tiny acoustic model; the content width is the imported encoder's.
SIZES = {**{k: v for k, v in MICRO.items() if not k.startswith("features.")}, "features.content_dim": HIDDEN}


def _sets(overrides: dict) -> list[str]:
    return sum((["--set", f"{k}={v}"] for k, v in overrides.items()), [])


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """Imported content encoder and vocoder files, made from published-layout checkpoints."""
    root = tmp_path_factory.mktemp("parts")
    write_fairseq(root / "contentvec.pt", hf_state())
    assert main(["import-content", str(root / "contentvec.pt"), "--out", str(root / "contentvec.safetensors")]) == 0
    (root / "m4singer").mkdir()
    ckpt, _ = write_checkpoint(root / "m4singer", "m4singer")
    assert main(["import-vocoder", str(ckpt), "--out", str(root / "nsf.safetensors")]) == 0
    (root / "openvpi").mkdir()
    ckpt44, _ = write_checkpoint(root / "openvpi", "openvpi")
    assert main(["import-vocoder", str(ckpt44), "--out", str(root / "nsf44.safetensors")]) == 0
    return root


@pytest.fixture(scope="module")
def trained(parts, tmp_path_factory):
    data = make_corpus(tmp_path_factory.mktemp("data"), singers=2, files=2)
    out = tmp_path_factory.mktemp("run") / "out"
    threads = torch.get_num_threads()
    try:
        code = main(["train", "all", str(data), str(out), "--config", "paper",
                     "--content", str(parts / "contentvec.safetensors"), "--vocoder", str(parts / "nsf.safetensors"),
                     *_sets(SIZES), "--teacher-steps", "2", "--student-steps", "2", "--checkpoint-every", "2",
                     "--threads", "1", "--device", "cpu", "--no-progress", "--no-tensorboard", "--json"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return out


def test_the_model_file_carries_the_imported_encoder_and_vocoder(trained, parts):
    from core.model.model_file import load_model

    report = json.loads((trained / "train_all.json").read_text())
    assert report["config"] == "paper"
    assert report["stages"]["vocoder"]["imported"] == str(parts / "nsf.safetensors")
    assert not (trained / "vocoder.safetensors").exists()  # no built-in vocoder was trained
    bundle = load_model(trained / "model.safetensors")
    assert {"teacher", "student", "content", "vocoder", "retrieval"} <= set(bundle.metadata["parts"])
    assert all(n > 0 for n in report["stages"]["index"]["codes_per_singer"])  # from the frozen codes in the cache
    assert bundle.metadata["content"]["encoder"] == "hubert" and bundle.metadata["content"]["dim"] == HIDDEN
    assert bundle.metadata["vocoder"]["architecture"] == "nsf-hifigan"
    assert bundle.config.audio.n_fft == 512 and bundle.config.features.content_dim == HIDDEN


def test_the_result_converts_streams_and_simulates(trained, tmp_path, capsys):
    import soundfile as sf

    from core.convert import ConversionStream, VoiceModel, convert_audio
    from core.features.content_hubert import HubertContentEncoder
    from core.vocoder.nsf_hifigan import NsfHifiganVocoder
    from tests.convert_fixtures import sung_tone

    model = VoiceModel.load(trained / "model.safetensors", "cpu")
    assert isinstance(model.content_encoder, HubertContentEncoder)
    assert isinstance(model.vocoder, NsfHifiganVocoder)
    audio = sung_tone(0.8)
    converted, rate, _ = convert_audio(model, audio, 24000, "singer1")
    assert rate == 24000 and len(converted) == len(audio)
    assert np.isfinite(converted).all() and np.abs(converted).max() > 1e-4

    stream = ConversionStream(model, singer="singer0", lookahead_frames=4, max_block_frames=8)
    pieces = [stream.push(audio[i:i + 1024]) for i in range(0, 8 * 1024, 1024) if len(audio[i:i + 1024]) == 1024]
    assert all(len(p) == 1024 and np.isfinite(p).all() for p in pieces)

    wav = tmp_path / "in.wav"
    sf.write(wav, sung_tone(2.5), 24000)
    threads = torch.get_num_threads()
    try:
        code = main(["simulate", str(wav), "--model", str(trained / "model.safetensors"), "--device", "cpu",
                     "--singer", "singer1", "--json"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["blocks"] > 0 and report["xruns"] >= 0


@pytest.mark.parametrize("case", ["vocoder_front_end", "content_width", "no_content_for_paper"])
def test_mismatched_parts_are_one_line_before_any_work(parts, tmp_path, capsys, case):
    data = make_corpus(tmp_path / "data", singers=2, files=1)
    out = tmp_path / "out"
    files = {"vocoder_front_end": ["--content", str(parts / "contentvec.safetensors"),
                                   "--vocoder", str(parts / "nsf44.safetensors")],
             "content_width": ["--content", str(parts / "contentvec.safetensors"),
                               "--set", "features.content_dim=768"],
             "no_content_for_paper": []}[case]
    sizes = {k: v for k, v in SIZES.items() if not (case == "content_width" and k == "features.content_dim")}
    code = main(["train", "all", str(data), str(out), "--config", "paper", *files, *_sets(sizes),
                 "--teacher-steps", "1", "--student-steps", "1", "--no-progress", "--no-tensorboard"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("comosvc train: error:")
    assert {"vocoder_front_end": "44100", "content_width": "768", "no_content_for_paper": "--content"}[case] in err[0]
    assert not out.exists()  # refused before the output folder was made


def test_the_imported_encoder_follows_the_model_device(trained, monkeypatch):
    """ContentVec on another device (meta, a stand-in for a GPU here; see tests/test_device.py). The NSF
    vocoder is left out: its phase bookkeeping reads values per block, which a data-less device cannot give."""
    from core.convert import VoiceModel
    from core.model.conditioning import ConditionInputs
    from core.vocoder.builtin import BuiltinVocoder
    from tests.test_device import push_on_another_device

    monkeypatch.setattr(ConditionInputs, "validate", lambda *args, **kwargs: None)
    model = VoiceModel.load(trained / "model.safetensors")
    model.vocoder = BuiltinVocoder.from_config(model.config.audio, model.config.vocoder)
    assert push_on_another_device(model).endswith("audio_out.detach().cpu().numpy().astype(np.float32, copy=False)")
