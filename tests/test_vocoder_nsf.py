"""NSF-HiFiGAN: import random checkpoints written in both published layouts, run them, stream them."""

import json

import numpy as np
import pytest
import torch
import yaml
from torch.nn.utils import parametrizations, weight_norm

from cli.main import main
from core.errors import ModelFileError, UserError
from core.vocoder.files import load_vocoder_file
from core.vocoder.nsf_hifigan import NsfHifiganGenerator, NsfHifiganVocoder, NsfShape
from core.vocoder.nsf_import import import_nsf_hifigan

# The published checkpoints use the old weight_norm (weight_g / weight_v keys) on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")

# Published sizes except the channel width, kept small so the test is fast.
OPENVPI = dict(sampling_rate=44100, hop_size=512, num_mels=128, n_fft=2048, win_size=2048, fmin=40, fmax=16000,
               upsample_rates=[8, 8, 2, 2, 2], upsample_kernel_sizes=[16, 16, 4, 4, 4], upsample_initial_channel=32,
               resblock="1", resblock_kernel_sizes=[3, 7, 11], resblock_dilation_sizes=[[1, 3, 5]] * 3)
M4SINGER = dict(audio_sample_rate=24000, hop_size=128, audio_num_mel_bins=80, fft_size=512, win_size=512, fmin=30,
                fmax=12000, upsample_rates=[8, 8, 2], upsample_kernel_sizes=[16, 16, 4], upsample_initial_channel=32,
                resblock="1", resblock_kernel_sizes=[3, 7, 11], resblock_dilation_sizes=[[1, 3, 5]] * 3,
                use_pitch_embed=True)


def shape_of(layout: str) -> NsfShape:
    c = OPENVPI if layout == "openvpi" else M4SINGER
    return NsfShape(layout=layout, sampling_rate=c.get("sampling_rate", c.get("audio_sample_rate")),
                    hop_size=c["hop_size"], num_mels=c.get("num_mels", c.get("audio_num_mel_bins")),
                    n_fft=c.get("n_fft", c.get("fft_size")), win_size=c["win_size"], fmin=c["fmin"], fmax=c["fmax"],
                    upsample_rates=tuple(c["upsample_rates"]), upsample_kernel_sizes=tuple(c["upsample_kernel_sizes"]),
                    upsample_initial_channel=c["upsample_initial_channel"], resblock="1",
                    resblock_kernel_sizes=(3, 7, 11), resblock_dilation_sizes=((1, 3, 5),) * 3,
                    log_base="e" if layout == "openvpi" else "10", source_norm=layout == "m4singer")


def published_generator(layout: str, parametrized: bool) -> NsfHifiganGenerator:
    """Our network with weight norm put back where the published code has it."""
    torch.manual_seed(3)
    gen = NsfHifiganGenerator(shape_of(layout))
    norm = (lambda m: parametrizations.weight_norm(m)) if parametrized else weight_norm
    convs = [gen.conv_pre, gen.conv_post, *gen.ups]
    for block in gen.resblocks:
        convs += [*block.convs1, *block.convs2]
    for conv in convs:
        norm(conv)
    return gen


def write_checkpoint(folder, layout: str, parametrized: bool = False, extra_key: bool = False):
    gen = published_generator(layout, parametrized)
    state = gen.state_dict()
    if extra_key:
        state["source_conv.weight"] = torch.zeros(3)
    if layout == "openvpi":
        path = folder / "model.ckpt"
        torch.save({"generator": state}, path)
        (folder / "config.json").write_text(json.dumps(OPENVPI))
    else:
        path = folder / "model_ckpt_steps_1970000.ckpt"
        disc = {"mpd.discriminators.0.convs.0.weight_g": torch.zeros(32, 1, 1, 1)}
        torch.save({"state_dict": {"model_gen": state, "model_disc": disc}, "global_step": 1970000,
                    "optimizer_states": [{"state": {}, "param_groups": [{"lr": 2e-4}]}]}, path)
        (folder / "config.yaml").write_text(yaml.safe_dump(M4SINGER))
    return path, gen


@pytest.mark.parametrize("layout,parametrized", [("openvpi", False), ("m4singer", False), ("openvpi", True)])
def test_import_matches_the_weight_normed_original(tmp_path, layout, parametrized):
    path, original = write_checkpoint(tmp_path, layout, parametrized)
    keys = set(original.state_dict())
    assert "conv_pre.weight_g" in keys or "conv_pre.parametrizations.weight.original0" in keys
    assert "m_source.l_linear.weight" in keys and "resblocks.8.convs2.2.bias" in keys and "noise_convs.0.weight" in keys
    vocoder = import_nsf_hifigan(path)
    frames = 12
    mel = torch.randn(1, original.shape.num_mels, frames) - 4
    f0 = torch.full((1, frames), 220.0)
    f0[0, 5:8] = 0
    args = (torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.int64))
    with torch.no_grad():
        expected = original(mel, f0, *args)[0]
    log10_mel = mel[0] / np.log(10.0) if layout == "openvpi" else mel[0]  # the adapter's scale conversion
    got = vocoder.synthesize(log10_mel, f0[0])
    assert got.shape == (frames * original.shape.hop_size,)
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("layout", ["openvpi", "m4singer"])
def test_cli_import_then_load_without_pickle(tmp_path, layout, capsys):
    path, _ = write_checkpoint(tmp_path, layout)
    out = tmp_path / "voc.safetensors"
    assert main(["import-vocoder", str(path), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layout"] == layout and report["n_mels"] == (128 if layout == "openvpi" else 80)
    vocoder = load_vocoder_file(out)
    audio = vocoder.synthesize(torch.randn(vocoder.n_mels, 6) - 4, torch.full((6,), 300.0))
    assert audio.shape == (6 * vocoder.hop_length,) and torch.isfinite(audio).all()


def test_mismatched_checkpoints_are_one_line_errors(tmp_path, capsys):
    path, _ = write_checkpoint(tmp_path, "openvpi", extra_key=True)
    with pytest.raises(ModelFileError, match="unexpected: source_conv.weight"):
        import_nsf_hifigan(path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(UserError, match="config"):
        import_nsf_hifigan(path)
    out = tmp_path / "never.safetensors"
    assert main(["import-vocoder", str(tmp_path / "missing.ckpt"), "--out", str(out)]) == 2
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a pickle at all")
    assert main(["import-vocoder", str(garbage), "--out", str(out)]) == 2
    assert not out.exists()
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("layout", ["m4singer", "openvpi"])
def test_blocks_match_whole_away_from_the_first_block(layout):
    """Tolerance: after the first block, block output differs from whole output by < 1 % RMS
    (measured 5.6e-4 M4Singer, 1.4e-5 openvpi: the carried source state is one per harmonic / one per frame)."""
    torch.manual_seed(1)
    vocoder = NsfHifiganVocoder(NsfHifiganGenerator(shape_of(layout)))
    frames = 120
    mel = torch.randn(vocoder.n_mels, frames) * 0.5 - 3
    f0 = 200 + 30 * torch.sin(torch.arange(frames) / 7.0)
    f0[50:60] = 0
    whole = vocoder.synthesize(mel, f0)
    rng = np.random.default_rng(0)
    stream, pieces, i, first = vocoder.stream(), [], 0, None
    while i < frames:
        n = int(rng.integers(4, 16))  # 21 to 85 ms blocks
        pieces.append(stream.process(mel[:, i : i + n], f0[i : i + n]))
        first = first or n
        i += n
    blocks = torch.cat(pieces)
    lag = vocoder.latency_samples
    assert blocks.shape == whole.shape
    assert float(blocks[:lag].abs().max()) == 0.0  # the lookahead's leading silence
    start = first * vocoder.hop_length
    diff = blocks[start + lag :] - whole[start : len(whole) - lag]
    rms = float(whole.pow(2).mean().sqrt())
    assert float(diff.pow(2).mean().sqrt()) < 0.01 * rms


def test_bridge_from_our_24k_mel_to_the_44k_generator(tmp_path):
    from core.audio.mel import MelSpectrogram
    from core.audio.resample import resample
    from core.config import load_config
    from core.vocoder.registry import vocoder_for_front_end

    ours = load_config("paper").audio
    path, _ = write_checkpoint(tmp_path, "openvpi")
    vocoder = import_nsf_hifigan(path)
    bridge = vocoder_for_front_end(vocoder, ours)
    assert vocoder_for_front_end(bridge.target, vocoder.front_end()) is vocoder  # same front end: no bridge
    t = torch.arange(24000) / 24000
    noise = 0.02 * torch.randn(24000, generator=torch.Generator().manual_seed(0))
    tone = sum(0.2 / k * torch.sin(2 * np.pi * k * 196.0 * t) for k in range(1, 30)).float() + noise
    mel24 = MelSpectrogram(ours)(tone)
    converted, hz = bridge.convert(mel24, torch.full((mel24.shape[1],), 196.0))
    native = MelSpectrogram(vocoder.front_end())(resample(tone, 24000, 44100))
    n = min(converted.shape[1], native.shape[1])
    loud = native[:, 2 : n - 2] > -2.5
    got, want = converted[:, 2 : n - 2][loud], native[:, 2 : n - 2][loud]
    # An approximation (the 24 kHz mel is coarser): no level bias, bands within ~0.4 decade, shape kept.
    assert loud.sum() > 100 and abs(float((got - want).mean())) < 0.15
    assert float((got - want).abs().mean()) < 0.45
    assert float(torch.corrcoef(torch.stack([got, want]))[0, 1]) > 0.6
    assert torch.allclose(hz, torch.full_like(hz, 196.0))
    audio = bridge.synthesize(mel24[:, :30], torch.full((30,), 196.0))
    assert audio.shape == (30 * 128,) and torch.isfinite(audio).all()
    with pytest.raises(UserError, match="offline"):
        bridge.stream()
