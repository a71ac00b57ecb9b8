"""NSF-HiFiGAN parity with the published code, sample by sample.

Each test writes a tiny checkpoint the way the published training code saves
one (weight-normed parameters as weight_g / weight_v, the same nesting, a
config beside it), imports it through our import path, and compares our
output with a reference written here from the published definitions:

- M4Singer (DiffSinger's HifiGanGenerator with parallel_wavegan's SineGen, as
  CoMoSVC runs it): f0 nearest-upsampled to samples; each harmonic's per-sample
  increment is frac(k * f0 / sr); the phase is an inclusive running sum of
  those increments, kept small by subtracting 1 wherever the running sum's
  fractional part falls; source branch ReLU + layer norm over channels.
- openvpi (DiffSinger's modules/nsf_hifigan): within frame j, sample n = 1..upp
  has phase f0_j * n / sr plus the sum of earlier frames' (wrapped) totals;
  harmonic k multiplies that phase; source added as is.

Both: amplitude 0.1, 9 harmonics, voiced where f0 > 0, merged by a linear
layer and tanh. The comparisons use zero initial harmonic phase and zero noise
(upstream draws both at random on every call). The reference uses only
functional ops on the raw checkpoint tensors, never our modules.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from core.vocoder.nsf_hifigan import harmonic_source
from core.vocoder.nsf_import import import_nsf_hifigan

TOL = 1e-4

# Published settings except the channel width (kept small for speed).
OPENVPI_CONFIG = {
    "resblock": "1", "num_gpus": 4, "batch_size": 10, "learning_rate": 0.0002, "adam_b1": 0.8, "adam_b2": 0.99,
    "lr_decay": 0.999, "seed": 1234, "upsample_rates": [8, 8, 2, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4, 4],
    "upsample_initial_channel": 32, "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "discriminator_periods": [3, 5, 7, 11, 17, 23, 37],
    "segment_size": 16384, "num_mels": 128, "num_freq": 1025, "n_fft": 2048, "hop_size": 512, "win_size": 2048,
    "sampling_rate": 44100, "fmin": 40, "fmax": 16000, "fmax_for_loss": None, "num_workers": 4,
    "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54321", "world_size": 1},
}
M4SINGER_CONFIG = {
    "audio_sample_rate": 24000, "audio_num_mel_bins": 80, "hop_size": 128, "win_size": 512, "fft_size": 512,
    "fmin": 30, "fmax": 12000, "use_pitch_embed": True, "resblock": "1", "upsample_rates": [8, 8, 2],
    "upsample_kernel_sizes": [16, 16, 4], "upsample_initial_channel": 32, "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "vocoder": "HifiGAN", "mel_vmin": -6,
    "mel_vmax": 1.5, "task_cls": "tasks.vocoder.hifigan.HifiGanTask", "max_sentences": 24,
}
HARMONICS = 9
SINE_AMP = 0.1


# ---------------------------------------------------------------- checkpoint


def _weight_normed(state: dict, name: str, shape: tuple[int, ...], rng: np.random.Generator, gain: float) -> None:
    """weight_g / weight_v as torch's old weight_norm (dim 0) stores them, plus a bias."""
    transposed = name.startswith("ups.")   # ConvTranspose1d weights are (in, out, kernel)
    fan_in = shape[0] * shape[2] if transposed else int(np.prod(shape[1:]))
    v = rng.standard_normal(shape).astype(np.float32)
    g = (np.linalg.norm(v.reshape(shape[0], -1), axis=1) * gain / math.sqrt(fan_in)
         * rng.uniform(0.5, 1.5, shape[0])).astype(np.float32)
    state[name + ".weight_g"] = torch.from_numpy(g.reshape(shape[0], *([1] * (len(shape) - 1))))
    state[name + ".weight_v"] = torch.from_numpy(v)
    out_channels = shape[1] if transposed else shape[0]
    state[name + ".bias"] = torch.from_numpy(rng.normal(0, 0.05, out_channels).astype(np.float32))


def _plain(state: dict, name: str, shape: tuple[int, ...], rng: np.random.Generator, gain: float) -> None:
    fan_in = int(np.prod(shape[1:]))
    weight = rng.standard_normal(shape) * gain / math.sqrt(fan_in)
    state[name + ".weight"] = torch.from_numpy(weight.astype(np.float32))
    state[name + ".bias"] = torch.from_numpy(rng.normal(0, 0.05, shape[0]).astype(np.float32))


def published_state(config: dict, num_mels: int, seed: int) -> OrderedDict:
    """A generator state dict with the published key names, order and shapes; random values."""
    rng = np.random.default_rng(seed)
    rates, kernels = config["upsample_rates"], config["upsample_kernel_sizes"]
    ch0 = config["upsample_initial_channel"]
    state: OrderedDict = OrderedDict()
    state["m_source.l_linear.weight"] = torch.from_numpy(rng.normal(0, 0.6, (1, HARMONICS)).astype(np.float32))
    state["m_source.l_linear.bias"] = torch.from_numpy(rng.normal(0, 0.05, 1).astype(np.float32))
    for i, (u, k) in enumerate(zip(rates, kernels)):
        stride = int(np.prod(rates[i + 1:])) if i + 1 < len(rates) else 1
        kernel = stride * 2 if i + 1 < len(rates) else 1
        _plain(state, f"noise_convs.{i}", (ch0 // 2 ** (i + 1), 1, kernel), rng, 1.0)
    _weight_normed(state, "conv_pre", (ch0, num_mels, 7), rng, 1.0)
    for i, (u, k) in enumerate(zip(rates, kernels)):
        _weight_normed(state, f"ups.{i}", (ch0 // 2 ** i, ch0 // 2 ** (i + 1), k), rng, 1.0)
    n = 0
    for i in range(len(rates)):
        ch = ch0 // 2 ** (i + 1)
        for k, dilations in zip(config["resblock_kernel_sizes"], config["resblock_dilation_sizes"]):
            # ResBlock1: convs1.M / convs2.M for its three dilations; ResBlock2: convs.M for its two.
            groups, count = (("convs1", "convs2"), 3) if config["resblock"] == "1" else (("convs",), 2)
            for group in groups:
                for m in range(count):
                    _weight_normed(state, f"resblocks.{n}.{group}.{m}", (ch, ch, k), rng, 0.7)
            n += 1
    _weight_normed(state, "conv_post", (1, ch0 // 2 ** len(rates), 7), rng, 1.0)
    return state


def write_published(folder, layout: str, seed: int = 0, **config_changes):
    """The checkpoint and config files as the published training code leaves them."""
    if layout == "openvpi":
        config = {**OPENVPI_CONFIG, **config_changes}
        state = published_state(config, config["num_mels"], seed)
        path = folder / "model.ckpt"
        torch.save({"generator": state}, path)   # openvpi's save_checkpoint: {'generator': state_dict}
        (folder / "config.json").write_text(json.dumps(config, indent=4))
    else:
        config = {**M4SINGER_CONFIG, **config_changes}
        state = published_state(config, config["audio_num_mel_bins"], seed)
        path = folder / "model_ckpt_steps_1970000.ckpt"
        disc = OrderedDict([("mpd.discriminators.0.convs.0.weight_g", torch.ones(32, 1, 1, 1))])
        torch.save({"epoch": 412, "global_step": 1970000, "checkpoint_callback_best": 0.0,
                    "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 2e-4}]}],
                    "state_dict": {"model_gen": state, "model_disc": disc},
                    "lr_schedulers": [{"last_epoch": 412}]}, path)
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return path, state, config


# ---------------------------------------------------------------- reference


def ref_source_m4singer(f0: torch.Tensor, sr: int, upp: int) -> torch.Tensor:
    """(B, F) f0 -> (B, F*upp, 9) sines, voiced-gated, in f0's dtype (upstream runs float32)."""
    f0_up = f0[:, None].repeat_interleave(upp, dim=2).transpose(1, 2)            # nearest, (B, T, 1)
    f0_buf = f0_up * torch.arange(1, HARMONICS + 1, dtype=f0.dtype)                 # k * f0
    rad = (f0_buf / sr) % 1                                                        # per-sample increment
    wrapped = torch.cumsum(rad, 1) % 1
    shift = torch.zeros_like(rad)
    shift[:, 1:, :] = ((wrapped[:, 1:, :] - wrapped[:, :-1, :]) < 0) * -1.0
    sines = torch.sin(torch.cumsum(rad + shift, dim=1) * 2 * np.pi) * SINE_AMP
    uv = (f0_up > 0).to(f0.dtype)
    return sines * uv


def ref_source_openvpi(f0: torch.Tensor, sr: int, upp: int) -> torch.Tensor:
    """(B, F) f0 -> (B, F*upp, 9) sines, voiced-gated, in f0's dtype (upstream runs float32)."""
    f0 = f0[..., None]                                                             # (B, F, 1)
    rad = f0 / sr * torch.arange(1, upp + 1, dtype=f0.dtype)                       # (B, F, upp)
    frame_total = torch.fmod(rad[..., -1:] + 0.5, 1.0) - 0.5
    before = torch.cumsum(frame_total, dim=1).fmod(1.0)
    rad = rad + F.pad(before[:, :-1, :], (0, 0, 1, 0))
    rad = rad.reshape(f0.shape[0], -1, 1) * torch.arange(1, HARMONICS + 1, dtype=f0.dtype).view(1, 1, -1)
    sines = torch.sin(2 * np.pi * rad) * SINE_AMP
    uv = (f0 > 0).to(f0.dtype).repeat_interleave(upp, dim=1)
    return sines * uv


def _weight(state: dict, name: str) -> torch.Tensor:
    if name + ".weight" in state:
        return state[name + ".weight"]
    g, v = state[name + ".weight_g"], state[name + ".weight_v"]
    return v * (g / v.reshape(v.shape[0], -1).norm(dim=1).view(-1, *([1] * (v.dim() - 1))))


def _conv(state: dict, name: str, x: torch.Tensor, **kw) -> torch.Tensor:
    return F.conv1d(x, _weight(state, name), state[name + ".bias"], **kw)


def ref_generator(state: dict, config: dict, layout: str, mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
    """(B, mels, F) mel in the checkpoint's own log scale, (B, F) f0 -> (B, F*upp)."""
    rates, kernels = config["upsample_rates"], config["upsample_kernel_sizes"]
    upp = int(np.prod(rates))
    sr = config.get("sampling_rate", config.get("audio_sample_rate"))
    sines = (ref_source_m4singer if layout == "m4singer" else ref_source_openvpi)(f0, sr, upp)
    har = torch.tanh(sines @ state["m_source.l_linear.weight"].T + state["m_source.l_linear.bias"]).transpose(1, 2)
    x = _conv(state, "conv_pre", mel, padding=3)
    n_kernels = len(config["resblock_kernel_sizes"])
    for i, (u, k) in enumerate(zip(rates, kernels)):
        x = F.leaky_relu(x, 0.1)
        x = F.conv_transpose1d(x, _weight(state, f"ups.{i}"), state[f"ups.{i}.bias"], stride=u, padding=(k - u) // 2)
        if i + 1 < len(rates):
            stride = int(np.prod(rates[i + 1:]))
            s = _conv(state, f"noise_convs.{i}", har, stride=stride, padding=stride // 2)
        else:
            s = _conv(state, f"noise_convs.{i}", har)
        if layout == "m4singer":   # ReLU, then a parameter-free layer norm over channels
            s = torch.relu(s)
            mean = s.mean(dim=1, keepdim=True)
            var = ((s - mean) ** 2).mean(dim=1, keepdim=True)
            s = (s - mean) / torch.sqrt(var + 1e-5)
        x = x + s
        total = 0
        for j, (rk, dilations) in enumerate(zip(config["resblock_kernel_sizes"], config["resblock_dilation_sizes"])):
            name, y = f"resblocks.{i * n_kernels + j}", x
            if config["resblock"] == "1":   # reads dilation[0..2]
                for m, d in enumerate(dilations[:3]):
                    t = _conv(state, f"{name}.convs1.{m}", F.leaky_relu(y, 0.1), dilation=d, padding=(rk * d - d) // 2)
                    t = _conv(state, f"{name}.convs2.{m}", F.leaky_relu(t, 0.1), padding=(rk - 1) // 2)
                    y = y + t
            else:                           # reads dilation[0..1]
                for m, d in enumerate(dilations[:2]):
                    y = y + _conv(state, f"{name}.convs.{m}", F.leaky_relu(y, 0.1), dilation=d,
                                  padding=(rk * d - d) // 2)
            total = total + y
        x = total / n_kernels
    x = _conv(state, "conv_post", F.leaky_relu(x), padding=3)   # default slope 0.01
    return torch.tanh(x)[:, 0]


# ---------------------------------------------------------------- inputs


def melody(frames: int, hop: int, sr: int) -> torch.Tensor:
    """A sung line: glide up, vibrato, a rest, a high note, a short unvoiced blip."""
    t = torch.arange(frames, dtype=torch.float64) * hop / sr
    f0 = 180.0 * 2 ** (t / 0.3) * (1 + 0.03 * torch.sin(2 * math.pi * 5.5 * t))
    f0 = f0.clamp(max=1000.0)
    f0[frames // 3: frames // 3 + 3] = 0
    f0[-4:] = 870.0
    f0[-2] = 0
    return f0.float()[None]


def mel_input(state: dict, frames: int, seed: int) -> torch.Tensor:
    mels = state["conv_pre.weight_v"].shape[1]
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, mels, frames, generator=g) * 1.5 - 5.0


# ---------------------------------------------------------------- tests

CASES = [("m4singer", 128, 24000, 40), ("openvpi", 512, 44100, 14)]


def _exact_args(state: dict, config: dict, layout: str, mel: torch.Tensor, f0: torch.Tensor):
    state64, mel64, f064 = exact(state, mel, f0)
    return state64, config, layout, mel64, f064


def exact(state: dict, mel: torch.Tensor, f0: torch.Tensor):
    """The reference's inputs in float64: upstream's definition without float32 rounding.

    Upstream itself runs float32, and its phase sums round: on these inputs its
    own float32 result sits up to ~1.2e-4 (M4Singer) from the exact value after
    the network. Our source accumulates phase in float64, so we compare with
    the exact value; the source alone is also held to upstream's float32 run.
    """
    return {k: v.double() for k, v in state.items()}, mel.double(), f0.double()


@pytest.mark.parametrize("layout,hop,sr,frames", CASES)
def test_harmonic_source_matches_upstream(layout, hop, sr, frames):
    f0 = melody(frames, hop, sr)
    reference = ref_source_m4singer if layout == "m4singer" else ref_source_openvpi
    ours = harmonic_source(f0, hop, sr, torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.int64),
                           noise_scale=0.0)
    for ref in (reference(f0.double(), sr, hop), reference(f0, sr, hop)):   # exact, and as upstream runs it
        assert ours.shape == ref.shape == (1, frames * hop, HARMONICS)
        assert float(ref.abs().max()) > 0.09        # the sines are there
        assert float((ours.double() - ref.double()).abs().max()) < TOL


@pytest.mark.parametrize("layout,hop,sr,frames", CASES)
def test_imported_generator_matches_upstream(tmp_path, layout, hop, sr, frames):
    path, state, config = write_published(tmp_path, layout, seed=5)
    vocoder = import_nsf_hifigan(path)
    assert vocoder.generator.shape.layout == layout
    f0 = melody(frames, hop, sr)
    mel = mel_input(state, frames, seed=2)
    with torch.no_grad():
        state64, mel64, f064 = exact(state, mel, f0)
        want = ref_generator(state64, config, layout, mel64, f064)
        got = vocoder.generator(mel, f0, torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.int64),
                                noise_scale=0.0)
    assert got.shape == want.shape == (1, frames * hop)
    assert float(want.std()) > 0.05             # a signal worth comparing, not a saturated or silent one
    assert float(want.abs().max()) < 0.99
    assert float((got.double() - want).abs().max()) < TOL


def test_resblock_type_2_and_extra_dilations_match_upstream(tmp_path):
    """HiFi-GAN V3's block (two dilated convs), and a ResBlock1 config listing more dilations than it reads."""
    for name, layout, changes in (("v3", "m4singer", dict(resblock="2", resblock_kernel_sizes=[3, 5, 7],
                                                          resblock_dilation_sizes=[[1, 2], [2, 6], [3, 12]])),
                                  ("long", "openvpi", dict(resblock_dilation_sizes=[[1, 3, 5, 7]] * 3))):
        (tmp_path / name).mkdir()
        path, state, config = write_published(tmp_path / name, layout, seed=11, **changes)
        vocoder = import_nsf_hifigan(path)
        hop, sr = (128, 24000) if layout == "m4singer" else (512, 44100)
        f0 = melody(12, hop, sr)
        mel = mel_input(state, 12, seed=4)
        with torch.no_grad():
            want = ref_generator(*_exact_args(state, config, layout, mel, f0))
            got = vocoder.generator(mel, f0, torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.int64),
                                    noise_scale=0.0)
        assert float(want.std()) > 0.02
        assert float((got.double() - want).abs().max()) < TOL


def test_a_window_regenerates_the_whole_signals_source():
    """The streaming contract: phase0 = the phase accumulated before the window gives the same samples."""
    hop, sr, frames, start = 128, 24000, 60, 23
    f0 = melody(frames, hop, sr)
    zero = torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.int64)
    whole = harmonic_source(f0, hop, sr, *zero, noise_scale=0.0)
    before = float((f0[0, :start].double() * hop / sr).sum() % 1.0)
    window = harmonic_source(f0[:, start:], hop, sr, torch.tensor([before], dtype=torch.float64),
                             torch.tensor([start * hop]), noise_scale=0.0)
    assert float((window - whole[:, start * hop:]).abs().max()) < 1e-5


@pytest.mark.parametrize("layout,hop,sr,frames", CASES)
def test_render_converts_our_log10_mel_to_the_checkpoints_scale(tmp_path, layout, hop, sr, frames):
    path, state, config = write_published(tmp_path, layout, seed=7)
    vocoder = import_nsf_hifigan(path)
    f0 = melody(frames, hop, sr)
    native = mel_input(state, frames, seed=3)
    log10_mel = native[0] / math.log(10.0) if layout == "openvpi" else native[0]
    with torch.no_grad():
        state64, native64, f064 = exact(state, native, f0)
        want = ref_generator(state64, config, layout, native64, f064)[0]
    got = vocoder.render(log10_mel, f0[0], noise_scale=0.0)
    assert float((got.double() - want).abs().max()) < TOL


def test_noise_is_the_published_level():
    """Zero f0 makes noise of std sine_amp / 3; voiced frames 0.003 on top of the sines."""
    hop, sr = 128, 24000
    f0 = torch.cat([torch.zeros(1, 200), torch.full((1, 200), 220.0)], dim=1)
    zero = torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.int64)
    noisy = harmonic_source(f0, hop, sr, *zero)
    clean = harmonic_source(f0, hop, sr, *zero, noise_scale=0.0)
    noise = noisy - clean
    half = 200 * hop
    assert abs(float(noise[:, :half].std()) - SINE_AMP / 3) < 0.002
    assert abs(float(noise[:, half:].std()) - 0.003) < 0.0003


def test_mini_nsf_and_pitchless_configs_are_refused(tmp_path):
    from core.errors import UserError

    (tmp_path / "a").mkdir()
    path, _, _ = write_published(tmp_path / "a", "openvpi", mini_nsf=True)
    with pytest.raises(UserError, match="mini_nsf"):
        import_nsf_hifigan(path)
    (tmp_path / "b").mkdir()
    path, _, _ = write_published(tmp_path / "b", "m4singer", use_pitch_embed=False)
    with pytest.raises(UserError, match="use_pitch_embed"):
        import_nsf_hifigan(path)
    (tmp_path / "c").mkdir()
    path, _, _ = write_published(tmp_path / "c", "openvpi", mini_nsf=False, noise_sigma=0.0)
    assert import_nsf_hifigan(path).generator.shape.layout == "openvpi"
