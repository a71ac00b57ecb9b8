"""`comosvc import-model`: models trained with the official CoMoSVC code (github.com/Grace9994/CoMoSVC).

The fixtures write small checkpoints in the official layout: torch.save of
{"global_step", "model"[, "optimizer"]} with the official key names (the
ComoSVC module's state dict, its unused pitch extractor included at its real
shapes), configs/diffusion.yaml and the logs/<run>/config.yaml the official
Saver writes (yaml.dump of the config dict). Weights are random, sizes tiny.

The reference below transcribes the official math (ComoSVC.forward, Como.EDMPrecond,
wavenet.WaveNet, Como.edm_sampler, Como.CT_sampler) with plain torch functional
ops over the raw state dict, in the official (B, T, mels) layout; our imported
models must agree with it within 1e-4 on the log10 mel it returns.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from cli.main import main as cli_main
from core.audio.mel import denormalize
from convert_fixtures import sung_tone, tiny_config
from core.errors import UserError
from core.model.conditioning import ConditionInputs
from core.model.noise import anchored_noise
from core.model.official_import import find_runs, import_official, load_run

UNITS, HIDDEN, CHANS, LAYERS, MELS = 12, 6, 8, 2, 80
FRAMES, SEED = 30, 7
SPEAKERS = {"alto": 0, "bass": 2, "tenor": 1}  # official ids need not follow the names' order
TEACHER_STEPS, STUDENT_STEPS = (2000, 4000), (600, 800)

# The official ComoSVC module always holds a PitchExtractor (decoder.pe), unused at inference.
_PE_CONV = [(256, 80, 5)] + [(256, 256, 5)] * 2


def pitch_extractor_state() -> dict[str, torch.Tensor]:
    s: dict[str, torch.Tensor] = {}
    for i, shape in enumerate(_PE_CONV):
        s[f"decoder.pe.mel_prenet.layers.{i}.0.weight"] = torch.zeros(shape)
        s[f"decoder.pe.mel_prenet.layers.{i}.0.bias"] = torch.zeros(256)
        for name in ("weight", "bias", "running_mean", "running_var"):
            s[f"decoder.pe.mel_prenet.layers.{i}.2.{name}"] = torch.zeros(256)
        s[f"decoder.pe.mel_prenet.layers.{i}.2.num_batches_tracked"] = torch.tensor(0)
    s["decoder.pe.mel_prenet.out_proj.weight"] = torch.zeros(256, 256)
    s["decoder.pe.mel_prenet.out_proj.bias"] = torch.zeros(256)
    for i in range(2):
        s[f"decoder.pe.mel_encoder.conv.{i}.conv.conv.weight"] = torch.zeros(256, 256, 5)
        s[f"decoder.pe.mel_encoder.conv.{i}.conv.conv.bias"] = torch.zeros(256)
        s[f"decoder.pe.mel_encoder.conv.{i}.norm.weight"] = torch.zeros(256)
        s[f"decoder.pe.mel_encoder.conv.{i}.norm.bias"] = torch.zeros(256)
    for name in ("in_proj", "out_proj"):
        s[f"decoder.pe.mel_encoder.{name}.weight"] = torch.zeros(256, 256)
        s[f"decoder.pe.mel_encoder.{name}.bias"] = torch.zeros(256)
    s["decoder.pe.pitch_predictor.pos_embed_alpha"] = torch.ones(1)
    for i in range(5):
        s[f"decoder.pe.pitch_predictor.conv.{i}.1.weight"] = torch.zeros(256, 256, 5)
        s[f"decoder.pe.pitch_predictor.conv.{i}.1.bias"] = torch.zeros(256)
        s[f"decoder.pe.pitch_predictor.conv.{i}.3.weight"] = torch.zeros(256)
        s[f"decoder.pe.pitch_predictor.conv.{i}.3.bias"] = torch.zeros(256)
    s["decoder.pe.pitch_predictor.linear.weight"] = torch.zeros(2, 256)
    s["decoder.pe.pitch_predictor.linear.bias"] = torch.zeros(2)
    s["decoder.pe.pitch_predictor.embed_positions._float_tensor"] = torch.zeros(1)
    return s


def wavenet_state(prefix: str, g: torch.Generator) -> dict[str, torch.Tensor]:
    def rnd(*shape: int, scale: float) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    s = {
        f"{prefix}.input_projection.weight": rnd(CHANS, MELS, 1, scale=0.15),
        f"{prefix}.input_projection.bias": rnd(CHANS, scale=0.1),
        f"{prefix}.mlp.0.weight": rnd(4 * CHANS, CHANS, scale=0.3),
        f"{prefix}.mlp.0.bias": rnd(4 * CHANS, scale=0.1),
        f"{prefix}.mlp.2.weight": rnd(CHANS, 4 * CHANS, scale=0.2),
        f"{prefix}.mlp.2.bias": rnd(CHANS, scale=0.1),
    }
    for i in range(LAYERS):
        p = f"{prefix}.residual_layers.{i}"
        s[f"{p}.dilated_conv.weight"] = rnd(2 * CHANS, CHANS, 3, scale=0.3)
        s[f"{p}.dilated_conv.bias"] = rnd(2 * CHANS, scale=0.1)
        s[f"{p}.diffusion_projection.weight"] = rnd(CHANS, CHANS, scale=0.3)
        s[f"{p}.diffusion_projection.bias"] = rnd(CHANS, scale=0.1)
        s[f"{p}.conditioner_projection.weight"] = rnd(2 * CHANS, HIDDEN, 1, scale=0.4)
        s[f"{p}.conditioner_projection.bias"] = rnd(2 * CHANS, scale=0.1)
        s[f"{p}.output_projection.weight"] = rnd(2 * CHANS, CHANS, 1, scale=0.3)
        s[f"{p}.output_projection.bias"] = rnd(2 * CHANS, scale=0.1)
    s[f"{prefix}.skip_projection.weight"] = rnd(CHANS, CHANS, 1, scale=0.4)
    s[f"{prefix}.skip_projection.bias"] = rnd(CHANS, scale=0.1)
    s[f"{prefix}.output_projection.weight"] = rnd(MELS, CHANS, 1, scale=0.4)  # zero-initialised upstream; trained here
    s[f"{prefix}.output_projection.bias"] = rnd(MELS, scale=0.1)
    return s


def official_state(
    seed: int, student: bool, n_spk: int = 3, pitch_aug: bool = True, units: int = UNITS
) -> "OrderedDict[str, torch.Tensor]":
    """The official ComoSVC state dict (teacher=True/False), random weights."""
    g = torch.Generator().manual_seed(seed)
    s: OrderedDict[str, torch.Tensor] = OrderedDict()
    s["unit_embed.weight"] = torch.randn(HIDDEN, units, generator=g) * 0.3
    s["unit_embed.bias"] = torch.randn(HIDDEN, generator=g) * 0.1
    s["f0_embed.weight"] = torch.randn(HIDDEN, 1, generator=g)
    s["f0_embed.bias"] = torch.randn(HIDDEN, generator=g) * 0.1
    s["volume_embed.weight"] = torch.randn(HIDDEN, 1, generator=g)
    s["volume_embed.bias"] = torch.randn(HIDDEN, generator=g) * 0.1
    if pitch_aug:
        s["aug_shift_embed.weight"] = torch.randn(HIDDEN, 1, generator=g)
    if n_spk > 1:
        s["spk_embed.weight"] = torch.randn(n_spk, HIDDEN, generator=g)
    s.update(wavenet_state("decoder.denoise_fn", g))
    s.update(pitch_extractor_state())
    if student:  # distinct values: importing the wrong network fails the comparison
        s.update(wavenet_state("decoder.denoise_fn_ema", g))
        s.update(wavenet_state("decoder.denoise_fn_pretrained", g))
    return s


def official_config(n_spk: int = 3, pitch_aug: bool = True, speakers: dict | None = None, units: int = UNITS) -> dict:
    """configs/diffusion.yaml as the official preprocessing writes it (template + speaker map)."""
    return {
        "data": {"sampling_rate": 24000, "hop_length": 128, "duration": 2, "filter_length": 512, "win_length": 512,
                 "encoder": "vec768l12", "cnhubertsoft_gate": 10, "encoder_sample_rate": 16000,
                 "encoder_hop_size": 320, "encoder_out_channels": units, "training_files": "filelists/train.txt",
                 "validation_files": "filelists/val.txt", "extensions": ["wav"], "unit_interpolate_mode": "nearest"},
        "model": {"type": "Diffusion", "n_layers": LAYERS, "n_chans": CHANS, "n_hidden": HIDDEN,
                  "use_pitch_aug": pitch_aug, "n_spk": n_spk},
        "device": "cuda",
        "vocoder": {"type": "m4-gan", "ckpt": "m4singer_hifigan/model_ckpt_steps_1970000.ckpt"},
        "infer": {"method": "dpm-solver++"},
        "env": {"comodir": "logs/como", "expdir": "logs/teacher", "gpu_id": 0},
        "train": {"num_workers": 4, "amp_dtype": "fp32", "batch_size": 48, "lr": 0.0001, "comolr": 0.00005,
                  "interval_val": 2000, "interval_force_save": 2000, "save_opt": False},
        "spk": dict(SPEAKERS if speakers is None else speakers),
    }


def adamw_state(network: dict[str, torch.Tensor]) -> dict:
    """An AdamW state dict over the student's network, as train.py's optimiser saves it."""
    params = [torch.nn.Parameter(t.clone()) for t in network.values()]
    optimizer = torch.optim.AdamW(params, lr=5e-5)
    sum(p.sum() for p in params).backward()
    optimizer.step()
    return optimizer.state_dict()


def write_official(root: Path, n_spk: int = 3, pitch_aug: bool = True, save_opt: bool = False,
                   teacher: bool = True, student: bool = True, units: int = UNITS) -> Path:
    config = official_config(n_spk, pitch_aug, None if n_spk > 1 else {"solo": 0}, units)
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "diffusion.yaml").write_text(yaml.dump(config, allow_unicode=True))
    runs = [("teacher", TEACHER_STEPS, False)] * teacher + [("como", STUDENT_STEPS, True)] * student
    for folder, steps, is_student in runs:
        run = root / "logs" / folder
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(yaml.dump(config))  # Saver: yaml.dump(dict(args))
        for k, step in enumerate(steps):
            state = official_state(100 * is_student + k, is_student, n_spk, pitch_aug, units)
            checkpoint = {"global_step": step, "model": state}
            if save_opt and is_student:
                network = {n: t for n, t in state.items() if n.startswith("decoder.denoise_fn.")}
                checkpoint["optimizer"] = adamw_state(network)
            torch.save(checkpoint, run / f"model_{step}.pt")
    return root


@pytest.fixture(scope="module")
def official(tmp_path_factory) -> Path:
    return write_official(tmp_path_factory.mktemp("official") / "CoMoSVC", save_opt=True)


# ---------------------------------------------------------------- the official math, transcribed


def ref_condition(sd, units, f0, volume, spk_id):
    """ComoSVC.forward's condition: units (B,T,C), f0 (B,T,1) Hz, volume (B,T,1), spk_id (B,1) -> (B,T,H)."""
    x = F.linear(units, sd["unit_embed.weight"], sd["unit_embed.bias"])
    x = x + F.linear((1 + f0 / 700).log(), sd["f0_embed.weight"], sd["f0_embed.bias"])
    x = x + F.linear(volume, sd["volume_embed.weight"], sd["volume_embed.bias"])
    if "spk_embed.weight" in sd:  # only built when n_spk > 1
        x = x + F.embedding(spk_id, sd["spk_embed.weight"])
    return x  # inference passes no aug_shift


def ref_wavenet(sd, p, spec, diffusion_step, cond):
    """wavenet.WaveNet.forward: spec (B,T,M), diffusion_step (B,), cond (B,T,H) -> (B,T,M)."""
    cond = cond.transpose(1, 2)
    x = F.relu(F.conv1d(spec.transpose(1, 2), sd[f"{p}.input_projection.weight"], sd[f"{p}.input_projection.bias"]))
    half = CHANS // 2
    freqs = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
    emb = diffusion_step[:, None] * freqs[None, :]
    emb = torch.cat((emb.sin(), emb.cos()), dim=-1)
    emb = F.linear(F.mish(F.linear(emb, sd[f"{p}.mlp.0.weight"], sd[f"{p}.mlp.0.bias"])),
                   sd[f"{p}.mlp.2.weight"], sd[f"{p}.mlp.2.bias"])
    skips = []
    for i in range(LAYERS):
        q = f"{p}.residual_layers.{i}"
        step = F.linear(emb, sd[f"{q}.diffusion_projection.weight"], sd[f"{q}.diffusion_projection.bias"])[..., None]
        c = F.conv1d(cond, sd[f"{q}.conditioner_projection.weight"], sd[f"{q}.conditioner_projection.bias"])
        y = F.conv1d(x + step, sd[f"{q}.dilated_conv.weight"], sd[f"{q}.dilated_conv.bias"], padding=1) + c
        gate, filt = torch.split(y, [CHANS, CHANS], dim=1)
        y = F.conv1d(torch.sigmoid(gate) * torch.tanh(filt), sd[f"{q}.output_projection.weight"],
                     sd[f"{q}.output_projection.bias"])
        residual, skip = torch.split(y, [CHANS, CHANS], dim=1)
        x = (x + residual) / math.sqrt(2.0)
        skips.append(skip)
    x = torch.sum(torch.stack(skips), dim=0) / math.sqrt(LAYERS)
    x = F.relu(F.conv1d(x, sd[f"{p}.skip_projection.weight"], sd[f"{p}.skip_projection.bias"]))
    x = F.conv1d(x, sd[f"{p}.output_projection.weight"], sd[f"{p}.output_projection.bias"])
    return x.transpose(1, 2)


def ref_precond(sd, x, sigma, cond, net="decoder.denoise_fn"):
    """Como.EDMPrecond (sigma_min 0.002, sigma_data 0.5)."""
    sigma = torch.as_tensor(sigma).reshape(-1, 1, 1)
    c_skip = 0.5**2 / ((sigma - 0.002) ** 2 + 0.5**2)
    c_out = (sigma - 0.002) * 0.5 / (sigma**2 + 0.5**2).sqrt()
    c_in = 1 / (0.5**2 + sigma**2).sqrt()
    c_noise = sigma.log() / 4
    return c_skip * x + c_out * ref_wavenet(sd, net, c_in * x, c_noise.flatten(), cond)


def ref_denorm(x):
    return (x + 1) / 2 * (1.5 - -6) + -6


def ref_teacher(sd, latents, cond, num_steps):
    """Como.edm_sampler with S_churn = 0: latents (B,M,T) -> log10 mel (B,T,M)."""
    rho, s_min, s_max = 7, 0.002, 80
    step_indices = torch.arange(num_steps)
    n = num_steps + 1
    t_steps = (s_max ** (1 / rho) + step_indices / (n - 1) * (s_min ** (1 / rho) - s_max ** (1 / rho))) ** rho
    t_steps = torch.cat([t_steps, torch.zeros_like(t_steps[:1])])
    x_next = (latents * t_steps[0]).transpose(1, 2)
    for t_cur, t_next in zip(t_steps[:-1], t_steps[1:]):
        x_cur = x_next
        denoised = ref_precond(sd, x_cur, t_cur, cond)
        d_cur = (x_cur - denoised) / t_cur
        x_next = x_cur + (t_next - t_cur) * d_cur
    return ref_denorm(x_next)


def ref_student(sd, latents, renoise, cond, steps):
    """Como.CT_sampler: latents (B,M,T), renoise[k] the k-th fresh noise (B,T,M) -> log10 mel (B,T,M)."""
    rho, s_min, s_max = 7, 0.002, 80
    if steps == 1:
        t_steps = [80]
    else:
        n = steps + 1
        t_steps = ((s_min ** (1 / rho) + torch.arange(n) / (n - 1) * (s_max ** (1 / rho) - s_min ** (1 / rho))) ** rho)
        t_steps = t_steps.flip(0)
    t_steps = torch.as_tensor(t_steps)
    x = ref_precond(sd, (latents * t_steps[0]).transpose(1, 2), t_steps[0], cond)
    for k, t in enumerate(t_steps[1:-1]):
        x = ref_precond(sd, x + (t**2 - s_min**2).sqrt() * renoise[k], t, cond)
    return ref_denorm(x)


# ---------------------------------------------------------------- shared inputs


def official_inputs(speaker_id: int):
    g = torch.Generator().manual_seed(3)
    units = torch.randn(1, FRAMES, UNITS, generator=g)
    f0 = 110 + 300 * torch.rand(1, FRAMES, generator=g)
    f0[:, 10:14] = 0.0  # an unvoiced stretch
    volume = 0.3 * torch.rand(1, FRAMES, generator=g)
    return units, f0, volume, torch.tensor([[speaker_id]])


def ours_vs_reference(model, sd, name, speaker_id, kind, steps):
    units, f0, volume, sid = official_inputs(speaker_id)
    inputs = ConditionInputs.single(units[0], f0[0], volume[0], model_singer(model, name), 0.0)
    cond = ref_condition(sd, units, f0[..., None], volume[..., None], sid)
    latents = anchored_noise(MELS, 0, FRAMES, SEED, 0)
    with torch.no_grad():
        if kind == "teacher":
            ours = model.sample_teacher(inputs, steps, 0, SEED)
            expected = ref_teacher(sd, latents, cond, steps)
        else:
            ours = model.sample(inputs, steps, 0, SEED)
            renoise = [anchored_noise(MELS, 0, FRAMES, SEED, k).transpose(1, 2) for k in range(1, steps)]
            expected = ref_student(sd, latents, renoise, cond, steps)
    return denormalize(ours, model_audio(model)), expected.transpose(1, 2)


_IMPORTED: dict = {}


def model_singer(model, name):
    return _IMPORTED[id(model)]["singers"].index(name)


def model_audio(model):
    return _IMPORTED[id(model)]["config"].audio


def imported(root: Path, role: str, **steps):
    run = next(r for r in find_runs(root, **steps) if r.role == role)
    model, config = load_run(run)
    _IMPORTED[id(model)] = {"config": config, "singers": run.settings.singer_names}
    return model, run


def raw_state(path: Path) -> dict:
    return torch.load(path, weights_only=True)["model"]


# ---------------------------------------------------------------- agreement with the official math


@pytest.mark.parametrize("steps", [50, 10, 1])
def test_teacher_reproduces_official_edm_sampler(official, steps):
    model, run = imported(official, "teacher")
    assert run.step == max(TEACHER_STEPS)
    sd = raw_state(run.checkpoint)
    for name in ("bass", "tenor"):
        ours, expected = ours_vs_reference(model, sd, name, SPEAKERS[name], "teacher", steps)
        assert expected.abs().max() > 1.0  # the network matters: far from a constant
        torch.testing.assert_close(ours, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_student_reproduces_official_ct_sampler(official, steps):
    model, run = imported(official, "student")
    assert run.step == max(STUDENT_STEPS)
    sd = raw_state(run.checkpoint)
    for name in ("alto", "bass"):
        ours, expected = ours_vs_reference(model, sd, name, SPEAKERS[name], "student", steps)
        torch.testing.assert_close(ours, expected, atol=1e-4, rtol=0)
    # The official sampler calls the online network, not the EMA copy beside it.
    units, f0, volume, sid = official_inputs(0)
    cond = ref_condition(sd, units, f0[..., None], volume[..., None], sid)
    with_ema = ref_precond(sd, anchored_noise(MELS, 0, FRAMES, SEED).transpose(1, 2) * 80, 80.0, cond,
                           net="decoder.denoise_fn_ema")
    online = ref_precond(sd, anchored_noise(MELS, 0, FRAMES, SEED).transpose(1, 2) * 80, 80.0, cond)
    assert (with_ema - online).abs().max() > 1e-2


def test_single_speaker_model_without_pitch_aug(tmp_path):
    root = write_official(tmp_path / "solo", n_spk=1, pitch_aug=False, teacher=False)
    model, run = imported(root, "student")
    sd = raw_state(run.checkpoint)
    assert "spk_embed.weight" not in sd and "aug_shift_embed.weight" not in sd
    ours, expected = ours_vs_reference(model, sd, "solo", 0, "student", 2)
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=0)


def test_step_picks_the_checkpoint(official):
    runs = {r.role: r for r in find_runs(official, step=min(STUDENT_STEPS), teacher_step=min(TEACHER_STEPS))}
    assert (runs["student"].step, runs["teacher"].step) == (min(STUDENT_STEPS), min(TEACHER_STEPS))
    model, run = imported(official, "student", step=min(STUDENT_STEPS))
    ours, expected = ours_vs_reference(model, raw_state(run.checkpoint), "tenor", SPEAKERS["tenor"], "student", 1)
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=0)


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> dict[str, Path]:
    """A content-encoder file (a tiny HuBERT, as import-content writes it) and a vocoder file."""
    from core.features.content_import import import_checkpoint
    from core.vocoder.builtin import BuiltinVocoder
    from core.vocoder.files import save_vocoder
    from test_content_hubert import HIDDEN as HUBERT_DIM
    from test_content_hubert import hf_state, write_hf

    folder = tmp_path_factory.mktemp("parts")
    content = folder / "contentvec.safetensors"
    import_checkpoint(write_hf(folder / "hf", hf_state()), content)
    cfg = tiny_config()
    vocoder = folder / "vocoder.safetensors"
    save_vocoder(vocoder, BuiltinVocoder.from_config(cfg.audio, cfg.vocoder))
    return {"content": content, "vocoder": vocoder, "dim": HUBERT_DIM}


@pytest.fixture(scope="module")
def official_wide(tmp_path_factory, parts) -> Path:
    """An official folder whose content width is the test HuBERT's."""
    return write_official(tmp_path_factory.mktemp("wide") / "CoMoSVC", units=parts["dim"])


def _cli(args: list[str]) -> int:
    return cli_main(["import-model", *map(str, args)])


def test_cli_writes_a_complete_model_that_converts(official_wide, parts, tmp_path, capsys):
    from core.convert import VoiceModel

    out = tmp_path / "official.safetensors"
    assert _cli([official_wide, "--content", parts["content"], "--vocoder", parts["vocoder"], "--out", out]) == 0
    printed = capsys.readouterr().out
    assert f"student step {max(STUDENT_STEPS)}" in printed and f"teacher step {max(TEACHER_STEPS)}" in printed
    model = VoiceModel.load(out)
    assert model.singers.names == ["alto", "tenor", "bass"]  # official id order 0, 1, 2
    assert model.config.model.residual_layers == LAYERS and model.config.features.content_dim == parts["dim"]
    assert model.teacher is not None
    sd = raw_state(official_wide / "logs" / "como" / f"model_{max(STUDENT_STEPS)}.pt")
    ours_sd = model.generator.state_dict()
    torch.testing.assert_close(ours_sd["conditioner.singer.weight"][2], sd["spk_embed.weight"][2])  # bass = id 2
    torch.testing.assert_close(ours_sd["denoiser.network.residual_layers.1.step_projection.weight"],
                               sd["decoder.denoise_fn.residual_layers.1.diffusion_projection.weight"])
    # It converts, with the student and with the teacher, through the command users run.
    import soundfile as sf

    source = tmp_path / "take.wav"
    sf.write(source, sung_tone(0.5), 24000)
    for steps in ("2", "teacher-10"):
        code = cli_main(["convert", str(source), "--model", str(out), "--singer", "bass", "--steps", steps,
                         "--out", str(tmp_path / steps)])
        assert code == 0
        audio, rate = sf.read(tmp_path / steps / "take_bass.wav")
        assert rate == 24000 and abs(len(audio) - 12000) <= 128 and abs(audio).max() > 0


def _fails(capsys, args, out: Path, *phrases: str) -> None:
    assert _cli([*args, "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("comosvc import-model: error: ") and err.count("\n") == 1, err
    for phrase in phrases:
        assert phrase in err, err
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_bad_folders_fail_with_one_line_and_no_output(official_wide, parts, tmp_path, capsys):
    common = ["--content", parts["content"], "--vocoder", parts["vocoder"]]
    out = tmp_path / "out" / "m.safetensors"
    out.parent.mkdir()
    _fails(capsys, [tmp_path / "nowhere", *common], out, "not a folder")
    (tmp_path / "empty").mkdir()
    _fails(capsys, [tmp_path / "empty", *common], out, "no run folders")
    _fails(capsys, [official_wide, *common, "--step", "123"], out, "model_123.pt", "600, 800")
    _fails(capsys, [official_wide, *common, "--teacher-step", "5"], out, "model_5.pt")
    _fails(capsys, [official_wide, "--vocoder", parts["vocoder"]], out, "import-content")
    _fails(capsys, [official_wide, "--content", parts["vocoder"], "--vocoder", parts["vocoder"]], out,
           "content-encoder")

    no_config = _copy(official_wide, tmp_path / "no_config")
    for path in [no_config / "configs" / "diffusion.yaml", *no_config.glob("logs/*/config.yaml")]:
        path.unlink()
    _fails(capsys, [no_config, *common], out, "no config")


def _rewrite(folder: Path, run: str, step: int, change) -> None:
    path = folder / "logs" / run / f"model_{step}.pt"
    checkpoint = torch.load(path, weights_only=True)
    change(checkpoint)
    torch.save(checkpoint, path)


def test_incompatible_checkpoints_fail_with_one_line_and_no_output(official_wide, parts, tmp_path, capsys):
    common = ["--content", parts["content"], "--vocoder", parts["vocoder"]]
    out = tmp_path / "m.safetensors"
    student, teacher = max(STUDENT_STEPS), max(TEACHER_STEPS)

    unknown = _copy(official_wide, tmp_path / "unknown")
    extra = {"decoder.denoise_fn.attention.weight": torch.zeros(1)}
    _rewrite(unknown, "como", student, lambda c: c["model"].update(extra))
    _fails(capsys, [unknown, *common], out, "decoder.denoise_fn.attention.weight", "another version")

    no_spk = _copy(official_wide, tmp_path / "no_spk")
    _rewrite(no_spk, "teacher", teacher, lambda c: c["model"].pop("spk_embed.weight"))
    _fails(capsys, [no_spk, *common], out, "no speaker embedding")

    resized = _copy(official_wide, tmp_path / "resized")
    config = yaml.safe_load((resized / "logs" / "como" / "config.yaml").read_text())
    for folder in ("como", "teacher"):
        config["model"]["n_chans"] = 2 * CHANS
        (resized / "logs" / folder / "config.yaml").write_text(yaml.dump(config))
    _fails(capsys, [resized, *common], out, "does not match")

    not_student = _copy(official_wide, tmp_path / "not_student")
    _rewrite(not_student, "como", student, lambda c: [c["model"].pop(k) for k in list(c["model"]) if "_ema." in k])
    _fails(capsys, [not_student, *common], out, "not a distilled CoMoSVC student")

    other = _copy(official_wide, tmp_path / "other")
    torch.save({"state_dict": {}}, other / "logs" / "como" / f"model_{student}.pt")
    _fails(capsys, [other, *common], out, "not an official CoMoSVC checkpoint")


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_checkpoint_naming_foreign_code_is_refused_unrun(official_wide, parts, tmp_path, capsys):
    folder = _copy(official_wide, tmp_path / "evil")
    marker = tmp_path / "ran"
    _rewrite(folder, "teacher", max(TEACHER_STEPS), lambda c: c.update(hook=_RunsCodeWhenUnpickled(str(marker))))
    out = tmp_path / "m.safetensors"
    _fails(capsys, [folder, "--content", parts["content"], "--vocoder", parts["vocoder"]], out, "not a readable")
    assert not marker.exists()


def test_teacher_only_folder_imports_the_teacher(tmp_path, parts, capsys):
    import json

    from core.model.model_file import load_model

    root = write_official(tmp_path / "t", student=False, units=parts["dim"])
    out = tmp_path / "t.safetensors"
    args = [root, "--content", parts["content"], "--vocoder", parts["vocoder"], "--step", min(TEACHER_STEPS)]
    assert _cli([*args, "--out", out, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["teacher_step"], report["student_step"]) == (min(TEACHER_STEPS), None)
    assert report["singers"] == ["alto", "tenor", "bass"] and report["n_mels"] == MELS

    bundle = load_model(out)
    assert bundle.student is None and bundle.teacher is not None
    with pytest.raises(UserError):
        import_official(root, out, parts["content"], str(parts["vocoder"]), step=1, teacher_step=2)

