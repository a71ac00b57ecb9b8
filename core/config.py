"""Typed configuration loaded from the YAML files in `configs/`.

The YAML files are the one place each default lives: `paper.yaml` holds the
paper's constants and the other sizes inherit from it (`inherit: paper`) and
override what differs. The dataclasses below carry no defaults of their own,
so a value can never silently differ between code and config.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
# What `comosvc preprocess` and `comosvc train` use without --config: the size the shipped default model has.
TRAINING_CONFIG = "live"


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float
    mag_eps: float
    log_clamp: float
    spec_min: float
    spec_max: float

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


@dataclass(frozen=True)
class FeatureConfig:
    f0_method: str
    f0_floor: float
    f0_ceil: float
    f0_silence_db: float
    content_encoder: str
    content_dim: int
    content_sample_rate: int
    content_hop: int
    content_channels: int
    content_lookahead: int
    content_norm_frames: int
    perturb_formant: float
    perturb_pitch: float
    perturb_eq_db: float


@dataclass(frozen=True)
class ModelConfig:
    cond_channels: int
    residual_channels: int
    residual_layers: int
    kernel_size: int
    dilation: int
    step_embed_dim: int
    step_mlp_dim: int
    n_singers: int


@dataclass(frozen=True)
class EDMConfig:
    sigma_min: float
    sigma_max: float
    sigma_data: float
    rho: float
    p_mean: float
    p_std: float
    teacher_steps: int
    distill_steps: int
    ema_decay: float
    teacher_floor: float  # lowest level the teacher's sampler visits; 0 = the paper's grid (samplers.py)
    teacher_churn: float  # EDM's S_churn for the teacher's sampler; 0 = the paper's deterministic ODE
    student_latent_scale: float  # the student's starting noise is this x sigma_max x N(0, I); 1 = the paper
    singer_guidance: float  # teacher sampling: D + g (D - D without singer); 0 = the paper (model/guidance.py)


@dataclass(frozen=True)
class TrainConfig:
    teacher_lr: float
    student_lr: float
    batch_size: int
    crop_seconds: float
    key_shift_max: float
    range_shift_max: float  # > 0: two more copies per clip re-sung with their own envelope (timbre_shift.py)
    volume_gain_db: float
    weight_decay: float
    checkpoint_every: int
    log_every: int
    teacher_ema_decay: float  # EMA of the teacher's weights, the weights saved and sampled; 0 = none
    student_singer_weight: float  # > 0: the cross-singer classifier loss in distillation (train/singer_loss.py)
    singer_classifier_steps: int  # steps of that loss's classifier, trained before distillation starts
    student_adversarial_weight: float  # > 0: the adversarial term in distillation (train/adversarial.py)
    adversarial_warmup_steps: int  # steps the discriminator learns alone before the student gets that term
    content_band_limit_prob: float  # share of training crops whose content-encoder input is band-limited (perturb.py)
    singer_dropout_prob: float  # share of teacher crops trained without their singer, for guidance (model/guidance.py)


@dataclass(frozen=True)
class VocoderConfig:
    name: str
    builtin_channels: int
    builtin_layers: int
    builtin_kernel_size: int
    builtin_harmonics: int
    builtin_noise_bands: int
    builtin_noise_filter_half: int
    builtin_envelope_prior: bool  # the log-mel read at each harmonic, gated into the logits (vocoder/envelope_prior.py)
    train_lr: float
    train_batch_size: int
    train_crop_frames: int
    train_warmup_frames: int
    train_range_shift_max: float  # > 0: `train vocoder` adds range copies of each file (core/train/vocoder.py)


@dataclass(frozen=True)
class Config:
    name: str
    audio: AudioConfig
    features: FeatureConfig
    model: ModelConfig
    edm: EDMConfig
    train: TrainConfig
    vocoder: VocoderConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, overrides: dict[str, Any]) -> "Config":
        """A copy with dotted-key overrides applied, e.g. {"model.residual_layers": 4}."""
        data = self.to_dict()
        for dotted, value in overrides.items():
            _set_dotted(data, dotted, value)
        return from_dict(data)

    def value(self, dotted: str) -> Any:
        """One setting by its dotted key, e.g. "edm.sigma_data"."""
        section, leaf = dotted.split(".")
        return getattr(getattr(self, section), leaf)


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        if not isinstance(node.get(key), dict):
            raise ConfigError(f"unknown config section '{key}' in override '{dotted}'")
        node = node[key]
    if leaf not in node:
        raise ConfigError(f"unknown config key '{dotted}'")
    node[leaf] = value


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(cls: type, data: Any, where: str) -> Any:
    if not dataclasses.is_dataclass(cls):
        return _coerce(cls, data, where)
    if not isinstance(data, dict):
        raise ConfigError(f"config '{where}' must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown config key(s) in '{where}': {', '.join(sorted(unknown))}")
    missing = names - set(data)
    if missing:
        raise ConfigError(f"missing config key(s) in '{where}': {', '.join(sorted(missing))}")
    return cls(**{n: _build(hints[n], data[n], f"{where}.{n}".lstrip(".")) for n in names})


# YAML 1.1 (PyYAML) reads an exponent without a dot, `3e-5`, as text; people write floats that way.
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _coerce(kind: type, value: Any, where: str) -> Any:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    raise ConfigError(f"config key '{where}' must be {kind.__name__}, got {value!r}")


# Keys whose meaning has a floor (AT_LEAST) or a ceiling (AT_MOST), checked when a config is built, so a
# bad --set is one line at once rather than an error deep in a sampler later.
AT_LEAST: dict[str, float] = {
    "edm.teacher_floor": 0.0,
    "edm.teacher_churn": 0.0,
    "edm.student_latent_scale": 0.0,
    "train.student_singer_weight": 0.0,
    "train.singer_classifier_steps": 0,
    "train.student_adversarial_weight": 0.0,
    "train.adversarial_warmup_steps": 0,
    "train.content_band_limit_prob": 0.0,
    "edm.singer_guidance": 0.0,
    "train.singer_dropout_prob": 0.0,
}
AT_MOST: dict[str, float] = {"train.content_band_limit_prob": 1.0, "train.singer_dropout_prob": 1.0}


def from_dict(data: dict[str, Any]) -> Config:
    config = _build(Config, data, "")
    for bounds, sign, holds in ((AT_LEAST, ">=", float.__ge__), (AT_MOST, "<=", float.__le__)):
        for dotted, bound in bounds.items():
            value = config.value(dotted)
            if not holds(float(value), float(bound)):  # a comparison with NaN is False: refused too
                raise ConfigError(f"config key '{dotted}' must be {sign} {bound:g}, got {value!r}")
    return config


# Keys added after model files were first written, each with the value that reproduces what files
# without it did. A stored config lacking one of these gets that value; any other gap is an error.
ADDED_KEYS: dict[str, Any] = {
    "train.teacher_ema_decay": 0.0,
    "train.range_shift_max": 0.0,
    "vocoder.train_range_shift_max": 0.0,
    "vocoder.builtin_envelope_prior": False,
    "edm.teacher_floor": 0.0,
    "edm.teacher_churn": 0.0,
    "edm.student_latent_scale": 1.0,
    "train.student_singer_weight": 0.0,
    "train.singer_classifier_steps": 2000,
    "train.student_adversarial_weight": 0.0,
    "train.adversarial_warmup_steps": 100,
    "train.content_band_limit_prob": 0.0,
    "edm.singer_guidance": 0.0,
    "train.singer_dropout_prob": 0.0,
}


def from_stored_dict(data: dict[str, Any]) -> Config:
    """A config read from a model file, which may predate the keys in ADDED_KEYS."""
    import copy

    data = copy.deepcopy(data)
    for dotted, value in ADDED_KEYS.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.setdefault(leaf, value)
    return from_dict(data)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping")
    parent = data.pop("inherit", None)
    if parent is not None:
        data = _merge(_read_yaml(_resolve(str(parent))), data)
    return data


def _resolve(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return CONFIG_DIR / f"{name_or_path}.yaml"


def load_config(name_or_path: str = "paper", overrides: dict[str, Any] | None = None) -> Config:
    """Load a named config (`paper`, `live`, `tiny`) or a YAML file path."""
    config = from_dict(_read_yaml(_resolve(name_or_path)))
    return config.replace(overrides) if overrides else config


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
