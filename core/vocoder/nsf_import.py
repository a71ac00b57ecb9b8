"""One-time import of a published NSF-HiFiGAN checkpoint into our vocoder file.

Accepted layouts (container, config beside the checkpoint):

- openvpi / so-vits-svc / DiffSinger-openvpi: `model.ckpt` (or .pt/.pth), a
  dict {"generator": state_dict, ...}, with `config.json` beside it
  (sampling_rate, hop_size, num_mels, n_fft, win_size, fmin, fmax,
  upsample_rates, upsample_kernel_sizes, upsample_initial_channel, resblock,
  resblock_kernel_sizes, resblock_dilation_sizes). Mel input: natural log.
- M4Singer / DiffSinger (as used by CoMoSVC): `model_ckpt_steps_N.ckpt`, a
  dict {"state_dict": {"model_gen": state_dict, "model_disc": ...}, ...}, with
  `config.yaml` beside it (audio_sample_rate, hop_size, fft_size, win_size,
  fmin, fmax, audio_num_mel_bins, and the same generator keys). Mel input:
  log10; ReLU + layer norm on the source branch.

Weight norm in either storage ((weight_g, weight_v), or parametrizations'
original0/original1) is folded into plain weights. Every generator parameter
must be filled and nothing else may be left over, or the import fails with a
list of what does not match.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from core.errors import ModelFileError, UserError
from core.features.content_pickle import load_checkpoint
from core.vocoder.nsf_hifigan import NsfHifiganGenerator, NsfHifiganVocoder, NsfShape

GENERATOR_KEYS = ("upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel", "resblock",
                  "resblock_kernel_sizes", "resblock_dilation_sizes")


def read_checkpoint(path: Path) -> Any:
    """weights_only first; if the file holds other objects (optimiser, hparams), the inert reader."""
    return load_checkpoint(path)


def find_generator_state(checkpoint: Any, where: Path | str = "this checkpoint") -> tuple[dict[str, torch.Tensor], str]:
    """(generator state dict, layout guess) from any of the published containers."""
    if isinstance(checkpoint, dict):
        if isinstance(checkpoint.get("generator"), dict):
            return checkpoint["generator"], "openvpi"
        inner = checkpoint.get("state_dict")
        if isinstance(inner, dict) and isinstance(inner.get("model_gen"), dict):
            return inner["model_gen"], "m4singer"
        if any(str(k).startswith("conv_pre.") for k in checkpoint):
            return checkpoint, "openvpi"
    raise ModelFileError(f"no NSF-HiFiGAN generator in {where} (looked for 'generator', "
                         "'state_dict'/'model_gen', or bare 'conv_pre.*' keys)")


def read_config(checkpoint_path: Path, config_path: Path | None) -> tuple[dict[str, Any], Path]:
    candidates = [config_path] if config_path else [checkpoint_path.with_name("config.json"),
                                                    checkpoint_path.with_name("config.yaml")]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            try:
                text = candidate.read_text()
                data = json.loads(text) if candidate.suffix == ".json" else yaml.safe_load(text)
            except (OSError, ValueError, yaml.YAMLError) as exc:
                raise UserError(f"cannot read vocoder config {candidate}: {exc}") from None
            if not isinstance(data, dict):
                raise UserError(f"vocoder config {candidate} is not a mapping")
            return data, candidate
    raise UserError(f"no config.json or config.yaml beside {checkpoint_path}; pass --config")


def refuse_other_networks(config: dict[str, Any], where: Path) -> None:
    """Configs of related generators that share key names but compute something else."""
    if config.get("mini_nsf"):
        raise UserError(f"vocoder config {where} sets mini_nsf: the mini-NSF generator (one source_conv at a "
                        "lower rate) is not supported; only the full NSF-HiFiGAN is")
    if config.get("use_pitch_embed", True) is False:
        raise UserError(f"vocoder config {where} sets use_pitch_embed: false: a plain HiFiGAN without the "
                        "NSF source, not supported")


def shape_from_config(config: dict[str, Any], layout: str, where: Path) -> NsfShape:
    def need(*names: str) -> Any:
        for name in names:
            if name in config:
                return config[name]
        raise UserError(f"vocoder config {where} lacks '{names[0]}'")

    try:
        return NsfShape(
            layout=layout,
            sampling_rate=int(need("sampling_rate", "audio_sample_rate")),
            hop_size=int(need("hop_size")),
            num_mels=int(need("num_mels", "audio_num_mel_bins")),
            n_fft=int(need("n_fft", "fft_size")),
            win_size=int(need("win_size")),
            fmin=float(need("fmin")),
            fmax=float(need("fmax")),
            upsample_rates=tuple(int(v) for v in need("upsample_rates")),
            upsample_kernel_sizes=tuple(int(v) for v in need("upsample_kernel_sizes")),
            upsample_initial_channel=int(need("upsample_initial_channel")),
            resblock=str(need("resblock")),
            resblock_kernel_sizes=tuple(int(v) for v in need("resblock_kernel_sizes")),
            resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in need("resblock_dilation_sizes")),
            log_base="10" if layout == "m4singer" else "e",
            source_norm=layout == "m4singer",
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"vocoder config {where} has a malformed value: {exc}") from None


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """weight = g * v / ||v|| (norm over all dims but 0), for both storages of weight norm."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        for g_name, v_name in (("weight_g", "weight_v"), ("parametrizations.weight.original0",
                                                           "parametrizations.weight.original1")):
            if key.endswith("." + g_name):
                pairs.setdefault(key[: -len(g_name)] + "weight", {})["g"] = value
                break
            if key.endswith("." + v_name):
                pairs.setdefault(key[: -len(v_name)] + "weight", {})["v"] = value
                break
        else:
            out[key] = value.float()
    for name, pair in pairs.items():
        if "g" not in pair or "v" not in pair:
            raise ModelFileError(f"weight norm of '{name}' is missing its {'v' if 'g' in pair else 'g'} half")
        v = pair["v"].float()
        norm = v.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *([1] * (v.dim() - 1)))
        out[name] = pair["g"].float().view(-1, *([1] * (v.dim() - 1))) * v / norm
    return out


def import_nsf_hifigan(checkpoint_path: str | os.PathLike, config_path: str | os.PathLike | None = None) -> NsfHifiganVocoder:
    path = Path(checkpoint_path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    state, layout = find_generator_state(read_checkpoint(path), path)
    config, where = read_config(path, Path(config_path) if config_path else None)
    if where.suffix != ".json" and layout == "openvpi" and "audio_sample_rate" in config:
        layout = "m4singer"
    refuse_other_networks(config, where)
    shape = shape_from_config(config, layout, where)
    generator = NsfHifiganGenerator(shape)
    weights = fold_weight_norm(state)
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights) if tuple(expected[k].shape) != tuple(weights[k].shape))
    if missing or unexpected or wrong:
        parts = []
        for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if names:
                parts.append(f"{label}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
        raise ModelFileError(f"{path} does not match an NSF-HiFiGAN ({layout}) with config {where.name}: "
                             + "; ".join(parts))
    generator.load_state_dict(weights)
    return NsfHifiganVocoder(generator)
