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
functional ops on the raw checkpoint tensors, never our modules, and its
sources transcribe the published SineGens in their own order of operations,
so that evaluated in float32 they round as upstream does when it runs.
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

from core.vocoder.nsf_hifigan import harmonic_source, source_cycles
from core.vocoder.nsf_import import import_nsf_hifigan

TOL = 2e-5   # against the float32 reference: upstream as it runs

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
    """(B, F) f0 -> (B, F*upp, 9) sines, voiced-gated, in f0's dtype (upstream runs float32).

    Upstream's steps in upstream's order: Upsample(scale_factor=upp) nearest;
    f0_buf[..., 0] = f0, f0_buf[..., i + 1] = f0_buf[..., 0] * (i + 2);
    rad = (f0_buf / sr) % 1; rad[:, 0] += initial phase (zero here); the
    cumsum's wrap points get -1; sin(cumsum(rad + shift) * 2 * pi) * 0.1;
    times uv, plus noise (zero here).
    """
    f0 = F.interpolate(f0[:, None], scale_factor=upp, mode="nearest").transpose(1, 2)   # (B, T, 1)
    f0_buf = torch.zeros(f0.shape[0], f0.shape[1], HARMONICS, dtype=f0.dtype)
    f0_buf[:, :, 0] = f0[:, :, 0]
    for idx in range(HARMONICS - 1):
        f0_buf[:, :, idx + 1] = f0_buf[:, :, 0] * (idx + 2)
    rad_values = (f0_buf / sr) % 1
    rad_values[:, 0, :] = rad_values[:, 0, :] + torch.zeros(f0.shape[0], HARMONICS, dtype=f0.dtype)
    tmp_over_one = torch.cumsum(rad_values, 1) % 1
    tmp_over_one_idx = (tmp_over_one[:, 1:, :] - tmp_over_one[:, :-1, :]) < 0
    cumsum_shift = torch.zeros_like(rad_values)
    cumsum_shift[:, 1:, :] = tmp_over_one_idx * -1.0
    sines = torch.sin(torch.cumsum(rad_values + cumsum_shift, dim=1) * 2 * np.pi)
    sine_waves = sines * SINE_AMP
    uv = torch.ones_like(f0) * (f0 > 0)
    return sine_waves * uv + torch.zeros_like(sine_waves)


def ref_source_openvpi(f0: torch.Tensor, sr: int, upp: int) -> torch.Tensor:
    """(B, F) f0 -> (B, F*upp, 9) sines, voiced-gated, in f0's dtype (upstream runs float32).

    Upstream's steps in upstream's order: rad = f0 / sr * arange(1, upp + 1)
    (int64 arange); each frame's total wrapped to [-0.5, 0.5) by fmod; their
    cumsum over frames, fmod 1, added to the next frames; flattened, times
    arange(1, 10) (int64); plus initial phase (zero here); sin(2 * pi * rad)
    * 0.1; times uv upsampled by interpolate(nearest), plus noise (zero here).
    """
    f0 = f0.unsqueeze(-1)                                                          # (B, F, 1)
    rad = f0 / sr * torch.arange(1, upp + 1)
    rad2 = torch.fmod(rad[..., -1:] + 0.5, 1.0) - 0.5
    rad_acc = rad2.cumsum(dim=1).fmod(1.0).to(f0)
    rad += F.pad(rad_acc[:, :-1, :], (0, 0, 1, 0))
    rad = rad.reshape(f0.shape[0], -1, 1)
    rad = torch.multiply(rad, torch.arange(1, HARMONICS + 1).reshape(1, 1, -1))
    rad += torch.zeros(1, 1, HARMONICS, dtype=rad.dtype)
    sine_waves = torch.sin(2 * np.pi * rad) * SINE_AMP
    uv = (f0 > 0).to(f0.dtype)
    uv = F.interpolate(uv.transpose(2, 1), scale_factor=upp, mode="nearest").transpose(2, 1)
    return sine_waves * uv + torch.zeros_like(sine_waves)


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


def sung_line(seconds: float, hop: int, sr: int) -> torch.Tensor:
    """A few seconds of notes from 196 to 880 Hz with 5.5 Hz vibrato and a slow glide, rests between
    notes and two one-frame unvoiced blips: long enough for float32 phase sums to drift."""
    frames = int(seconds * sr / hop)
    t = torch.arange(frames, dtype=torch.float64) * hop / sr
    notes = torch.tensor([196.0, 262.0, 330.0, 440.0, 392.0, 523.0, 880.0, 247.0], dtype=torch.float64)
    f0 = notes[(t / 0.35).long() % len(notes)] * (1 + 0.03 * torch.sin(2 * math.pi * 5.5 * t))
    f0 = f0 * 2 ** (0.2 * torch.sin(2 * math.pi * 0.4 * t))
    f0[(t / 0.35) % 1 > 0.9] = 0
    f0[frames // 5] = 0
    f0[frames // 2] = 0
    return f0.float()[None]


def mel_input(state: dict, frames: int, seed: int) -> torch.Tensor:
    mels = state["conv_pre.weight_v"].shape[1]
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, mels, frames, generator=g) * 1.5 - 5.0


# ---------------------------------------------------------------- tests

CASES = [("m4singer", 128, 24000, 40), ("openvpi", 512, 44100, 14)]
LONG_CASES = [("m4singer", 128, 24000), ("openvpi", 512, 44100)]
ZERO_STATE = (torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.int64))


def exact(state: dict, mel: torch.Tensor, f0: torch.Tensor):
    """The reference's inputs in float64: upstream's definition without float32 rounding.

    Upstream itself runs float32 and its phase sums round: on `sung_line(2 s)`
    its own float32 output sits ~9e-4 (M4Singer) / ~6e-5 (openvpi) from this
    exact value after the network. We compute what upstream computes, float32
    rounding included, so against the exact value we are held to be no
    further off than upstream's own float32 run.
    """
    return {k: v.double() for k, v in state.items()}, mel.double(), f0.double()


def _ours(vocoder, mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return vocoder.generator(mel, f0, *ZERO_STATE, noise_scale=0.0)


@pytest.mark.parametrize("layout,hop,sr", LONG_CASES)
def test_harmonic_source_matches_upstream(layout, hop, sr):
    reference = ref_source_m4singer if layout == "m4singer" else ref_source_openvpi
    for f0 in (melody(40, hop, sr), sung_line(2.0, hop, sr)):
        ours = harmonic_source(f0, hop, sr, *ZERO_STATE, noise_scale=0.0, layout=layout)
        as_run, exact_value = reference(f0, sr, hop), reference(f0.double(), sr, hop)
        assert ours.shape == as_run.shape == (1, f0.shape[1] * hop, HARMONICS)
        assert float(as_run.abs().max()) > 0.09        # the sines are there
        # Same ops in the same order on the same dtype: the same numbers (measured: identical on CPU).
        assert float((ours - as_run).abs().max()) < 1e-7
        upstream_rounding = float((as_run.double() - exact_value).abs().max())
        assert upstream_rounding > 1e-6                # float32 phase sums do round (measured 1.4e-5 / 1.6e-5 at 2 s)
        assert float((ours.double() - exact_value).abs().max()) <= upstream_rounding * 1.01


@pytest.mark.parametrize("layout,hop,sr", LONG_CASES)
def test_imported_generator_matches_upstream_as_it_runs(tmp_path, layout, hop, sr):
    """2 s with vibrato and voiced/unvoiced changes: within 2e-5 of upstream evaluated in float32."""
    path, state, config = write_published(tmp_path, layout, seed=5)
    vocoder = import_nsf_hifigan(path)
    assert vocoder.generator.shape.layout == layout
    f0 = sung_line(2.0, hop, sr)
    mel = mel_input(state, f0.shape[1], seed=2)
    got = _ours(vocoder, mel, f0)
    with torch.no_grad():
        as_run = ref_generator(state, config, layout, mel, f0)
        state64, mel64, f064 = exact(state, mel, f0)
        exact_value = ref_generator(state64, config, layout, mel64, f064)
    assert got.shape == as_run.shape == (1, f0.shape[1] * hop)
    assert float(as_run.std()) > 0.05             # a signal worth comparing, not a saturated or silent one
    assert float(as_run.abs().max()) < 0.99
    assert float((got - as_run).abs().max()) < TOL   # measured 2.8e-7 (M4Singer), 2.1e-7 (openvpi)
    # Against the exact definition we are exactly as far off as upstream's float32 run (measured 8.7e-4 /
    # 5.9e-5, was 1.5e-6 / 2.2e-7 when our phase sums ran in float64 and we were 8.7e-4 / 5.9e-5 from upstream).
    upstream_rounding = float((as_run.double() - exact_value).abs().max())
    assert float((got.double() - exact_value).abs().max()) <= upstream_rounding + 1e-6


@pytest.mark.parametrize("layout,hop,sr,frames", CASES)
def test_short_signals_match_upstream_as_it_runs(tmp_path, layout, hop, sr, frames):
    path, state, config = write_published(tmp_path, layout, seed=5)
    vocoder = import_nsf_hifigan(path)
    f0 = melody(frames, hop, sr)
    mel = mel_input(state, frames, seed=2)
    with torch.no_grad():
        want = ref_generator(state, config, layout, mel, f0)
    assert float(want.std()) > 0.05
    assert float((_ours(vocoder, mel, f0) - want).abs().max()) < TOL


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
            want = ref_generator(state, config, layout, mel, f0)
        assert float(want.std()) > 0.02
        assert float((_ours(vocoder, mel, f0) - want).abs().max()) < TOL


def _carried_states(layout: str, f0: torch.Tensor, hop: int, sr: int) -> torch.Tensor:
    """The source state at each frame's start, carried block by block (odd sizes) as the stream does."""
    states, state, i = [], None, 0
    while i < f0.shape[1]:
        _, at = source_cycles(layout, f0[:, i:i + 7], hop, sr, state)
        states.append(at[:, :-1])
        state, i = at[:, -1], i + 7
    return torch.cat(states, dim=1)


@pytest.mark.parametrize("layout,hop,sr", LONG_CASES)
def test_a_window_regenerates_the_whole_signals_source(layout, hop, sr):
    """The streaming contract: a window started from the carried state gives the whole signal's samples.

    Exact equality is out of reach in float32: the whole signal's running sums
    grow and round at their magnitude, a window's start small. M4Singer's sums
    are kept below one cycle (measured gap 1.9e-7 at 2 s); openvpi's frame
    offsets are a sum that grows with the signal, so the whole's own rounding
    shows (measured gap 9.2e-6 at 2 s, while the whole is 1.6e-5 and the
    windows 1.2e-5 from the exact value): the bound is the whole signal's own
    float32 error, and windows must be no further from the exact value.
    """
    f0 = sung_line(2.0, hop, sr)
    reference = ref_source_m4singer if layout == "m4singer" else ref_source_openvpi
    whole = harmonic_source(f0, hop, sr, *ZERO_STATE, noise_scale=0.0, layout=layout)
    exact_value = reference(f0.double(), sr, hop)
    states = _carried_states(layout, f0, hop, sr)
    gap = windows_off = whole_off = 0.0
    for start in range(3, f0.shape[1] - 20, 11):
        span = slice(start * hop, (start + 20) * hop)
        window = harmonic_source(f0[:, start:start + 20], hop, sr, states[:, start],
                                 torch.tensor([start * hop]), noise_scale=0.0, layout=layout)
        gap = max(gap, float((window - whole[:, span]).abs().max()))
        windows_off = max(windows_off, float((window.double() - exact_value[:, span]).abs().max()))
        whole_off = max(whole_off, float((whole[:, span].double() - exact_value[:, span]).abs().max()))
    assert windows_off <= whole_off * 1.01 + 1e-6
    assert gap <= (1e-6 if layout == "m4singer" else whole_off)


@pytest.mark.parametrize("layout,hop,sr,frames", CASES)
def test_render_converts_our_log10_mel_to_the_checkpoints_scale(tmp_path, layout, hop, sr, frames):
    path, state, config = write_published(tmp_path, layout, seed=7)
    vocoder = import_nsf_hifigan(path)
    f0 = melody(frames, hop, sr)
    native = mel_input(state, frames, seed=3)
    log10_mel = native[0] / math.log(10.0) if layout == "openvpi" else native[0]
    with torch.no_grad():
        want = ref_generator(state, config, layout, native, f0)[0]
    got = vocoder.render(log10_mel, f0[0], noise_scale=0.0)
    assert float((got - want).abs().max()) < TOL


def test_noise_is_the_published_level():
    """Zero f0 makes noise of std sine_amp / 3; voiced frames 0.003 on top of the sines."""
    hop, sr = 128, 24000
    f0 = torch.cat([torch.zeros(1, 200), torch.full((1, 200), 220.0)], dim=1)
    noisy = harmonic_source(f0, hop, sr, *ZERO_STATE, layout="m4singer")
    clean = harmonic_source(f0, hop, sr, *ZERO_STATE, noise_scale=0.0, layout="m4singer")
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
