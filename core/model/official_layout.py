"""How a checkpoint of the official CoMoSVC code (github.com/Grace9994/CoMoSVC) maps onto our model.

The official trainer saves `torch.save({"global_step": int, "model": state_dict})`
(plus "optimizer" when `train.save_opt` is on) of its `ComoSVC` module. That
state dict holds:

    unit_embed.{weight,bias}         Linear(encoder_out_channels, n_hidden)  -> conditioner.content
    f0_embed.{weight,bias}           Linear(1, n_hidden) of ln(1 + f0/700)   -> conditioner.f0
    volume_embed.{weight,bias}       Linear(1, n_hidden) of frame RMS        -> conditioner.loudness
    aug_shift_embed.weight           Linear(1, n_hidden, no bias) of shift/5 -> conditioner.key_shift
                                     (only with model.use_pitch_aug; else our weight is zero)
    spk_embed.weight                 Embedding(n_spk, n_hidden)              -> conditioner.singer
                                     (only when n_spk > 1; a single-speaker model adds no speaker
                                     term, which our table expresses as one all-zero row)
    decoder.denoise_fn.*             the WaveNet every sampler calls         -> denoiser.network
    decoder.denoise_fn_ema.*         student only: distillation's EMA target (not used to sample)
    decoder.denoise_fn_pretrained.*  student only: the frozen copy of the teacher
    decoder.pe.*                     a mel pitch extractor, never used to convert

The official student samples with `decoder.denoise_fn` (the network the
optimiser trains), not with the EMA copy, so that is the one imported.

The WaveNet, the EDM preconditioning and both samplers are the same math as
ours (core.model.wavenet / edm / samplers), with these names:

    input_projection, skip_projection, output_projection   (same)
    mlp.0, mlp.2                                           -> step_mlp.0, step_mlp.2
    residual_layers.i.diffusion_projection                 -> residual_layers.i.step_projection
    residual_layers.i.conditioner_projection               -> residual_layers.i.cond_projection
    residual_layers.i.dilated_conv / output_projection     (same)

Its step embedding is sinusoidal of width n_chans and its MLP n_chans -> 4 n_chans -> n_chans.
The EDM constants and the mel range are fixed in its code (not in its config); they
are listed here once.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from core.errors import ModelFileError

# Fixed in the official code (como.py), whatever its config says.
OFFICIAL_EDM = {"sigma_min": 0.002, "sigma_max": 80.0, "sigma_data": 0.5, "rho": 7.0, "p_mean": -1.2, "p_std": 1.2}
OFFICIAL_SPEC_RANGE = (-6.0, 1.5)  # log10 mel normalised to [-1, 1] with these ends
OFFICIAL_KERNEL_SIZE = 3
OFFICIAL_DILATION = 1
OFFICIAL_STEP_MLP_FACTOR = 4

NETWORK = "decoder.denoise_fn."
STUDENT_ONLY = ("decoder.denoise_fn_ema.", "decoder.denoise_fn_pretrained.")
PITCH_EXTRACTOR = "decoder.pe."

_CONDITION = {
    "unit_embed.weight": "conditioner.content.weight",
    "unit_embed.bias": "conditioner.content.bias",
    "f0_embed.weight": "conditioner.f0.weight",
    "f0_embed.bias": "conditioner.f0.bias",
    "volume_embed.weight": "conditioner.loudness.weight",
    "volume_embed.bias": "conditioner.loudness.bias",
}
_PITCH_AUG = "aug_shift_embed.weight"
_SPEAKERS = "spk_embed.weight"

_NETWORK_RULES: list[tuple[str, str]] = [
    (r"(input_projection|skip_projection|output_projection)\.(weight|bias)", r"\1.\2"),
    (r"mlp\.(0|2)\.(weight|bias)", r"step_mlp.\1.\2"),
    (r"residual_layers\.(\d+)\.diffusion_projection\.(weight|bias)", r"residual_layers.\1.step_projection.\2"),
    (r"residual_layers\.(\d+)\.conditioner_projection\.(weight|bias)", r"residual_layers.\1.cond_projection.\2"),
    (r"residual_layers\.(\d+)\.(dilated_conv|output_projection)\.(weight|bias)", r"residual_layers.\1.\2.\3"),
]


def official_sigma_max() -> float:
    """The top noise level the official samplers start from, as their code computes it.

    The official teacher builds its Karras grid in float32, so its first level is
    (80^(1/7))^7 rounded: 79.99998474121094, not 80. A one-step Euler step from there
    to 0 cancels two numbers near 80 |z|, so a start at exactly 80 moves the result by
    one float32 step there (about 1e-4 on the log10 mel). Recording this value as
    sigma_max makes our grids start where the official ones do (the official one-step
    student starts at exactly 80; at one evaluation with no cancellation the 2e-7
    difference is far below 1e-4).
    """
    return float((torch.zeros(1) + OFFICIAL_EDM["sigma_max"] ** (1 / OFFICIAL_EDM["rho"])) ** OFFICIAL_EDM["rho"])


def check_container(checkpoint: Any, where: str) -> dict[str, torch.Tensor]:
    """The "model" state dict of an official checkpoint; ModelFileError for anything else."""
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ModelFileError(f"{where} is not an official CoMoSVC checkpoint (no 'model' entry)")
    unknown = sorted(set(map(str, checkpoint)) - {"model", "global_step", "optimizer"})
    if unknown:
        raise ModelFileError(f"{where} has entries the official CoMoSVC code does not write: {', '.join(unknown)}")
    state = checkpoint["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{where}: its 'model' entry is not a state dict of tensors")
    return state


def acoustic_state(
    state: dict[str, torch.Tensor],
    where: str,
    student: bool,
    speaker_rows: list[int],
    single_speaker: bool,
    pitch_aug: bool,
) -> dict[str, torch.Tensor]:
    """Our AcousticModel state dict (names only; shapes are checked by the caller).

    speaker_rows: the official speaker id of each of our singers, in our order;
    single_speaker: model.n_spk <= 1 (no spk_embed); pitch_aug: model.use_pitch_aug.
    """
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    has_ema = False
    for key, tensor in state.items():
        if key in _CONDITION:
            out[_CONDITION[key]] = tensor
        elif key.startswith(NETWORK):
            mapped = _network_name(key[len(NETWORK):])
            if mapped is None:
                unknown.append(key)
            else:
                out["denoiser.network." + mapped] = tensor
        elif key.startswith(STUDENT_ONLY):
            has_ema = has_ema or key.startswith(STUDENT_ONLY[0])
            if not student:
                raise ModelFileError(f"{where} holds a distilled student's networks ({key}), not a teacher")
        elif key.startswith(PITCH_EXTRACTOR) or key in (_PITCH_AUG, _SPEAKERS):
            continue
        else:
            unknown.append(key)
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise ModelFileError(
            f"{where} has keys the official CoMoSVC model does not have ({', '.join(unknown[:3])}{more}): "
            "another version or another model"
        )
    if student and not has_ema:
        raise ModelFileError(f"{where} has no decoder.denoise_fn_ema: it is not a distilled CoMoSVC student")
    out.update(_speaker_rows(state, where, speaker_rows, single_speaker))
    out.update(_pitch_aug(state, where, pitch_aug))
    return out


def _network_name(name: str) -> str | None:
    for pattern, replacement in _NETWORK_RULES:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, replacement, name)
    return None


def _speaker_rows(
    state: dict[str, torch.Tensor], where: str, rows: list[int], single_speaker: bool
) -> dict[str, torch.Tensor]:
    table = state.get(_SPEAKERS)
    if single_speaker:  # the official model adds no speaker term at all: all-zero rows do the same
        if table is not None:
            raise ModelFileError(f"{where} has a speaker embedding but its config says model.n_spk is 1")
        hidden = state["f0_embed.weight"].shape[0] if "f0_embed.weight" in state else 0
        return {"conditioner.singer.weight": torch.zeros(len(rows), hidden, dtype=torch.float32)}
    if table is None:
        raise ModelFileError(f"{where} has no speaker embedding (spk_embed) but its config says model.n_spk > 1")
    if table.ndim != 2 or max(rows) >= table.shape[0]:
        raise ModelFileError(f"{where}: spk_embed has shape {tuple(table.shape)}, too small for speaker id {max(rows)}")
    return {"conditioner.singer.weight": table[torch.tensor(rows)].clone()}


def _pitch_aug(state: dict[str, torch.Tensor], where: str, pitch_aug: bool) -> dict[str, torch.Tensor]:
    weight = state.get(_PITCH_AUG)
    if pitch_aug and weight is None:
        raise ModelFileError(f"{where} has no aug_shift_embed but its config says model.use_pitch_aug: true")
    if not pitch_aug:
        if weight is not None:
            raise ModelFileError(f"{where} has an aug_shift_embed but its config says model.use_pitch_aug: false")
        hidden = state["f0_embed.weight"].shape[0] if "f0_embed.weight" in state else 0
        weight = torch.zeros(hidden, 1, dtype=torch.float32)  # no key-shift term, as in the official model
    return {"conditioner.key_shift.weight": weight}


def layer_count(state: dict[str, torch.Tensor]) -> int:
    """Residual layers in the checkpoint's teacher/online WaveNet."""
    found = {int(m.group(1)) for k in state if (m := re.match(re.escape(NETWORK) + r"residual_layers\.(\d+)\.", k))}
    return max(found) + 1 if found else 0
