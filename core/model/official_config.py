"""The training config of the official CoMoSVC code (configs/diffusion.yaml), read into ours.

The official trainer reads `configs/diffusion.yaml` and copies it, as YAML, to
`<run>/config.yaml` beside its checkpoints; inference reads that copy. The
parts that decide the network and its inputs:

    data.sampling_rate, data.hop_length, data.filter_length, data.win_length
    data.encoder_out_channels          content width (768 for 'vec768l12')
    model.n_layers, model.n_chans, model.n_hidden, model.use_pitch_aug, model.n_spk
    spk: {name: id}                    the speaker map inference looks names up in
    env.expdir, env.comodir            the teacher's and the student's run folders

The mel size is not in it (it is the vocoder's); the importer takes it from the
checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.config import Config, load_config
from core.errors import ModelFileError
from core.model.official_layout import (
    OFFICIAL_DILATION,
    OFFICIAL_EDM,
    OFFICIAL_KERNEL_SIZE,
    OFFICIAL_SPEC_RANGE,
    OFFICIAL_STEP_MLP_FACTOR,
    official_sigma_max,
)

DEFAULT_TEACHER_DIR = "logs/teacher"  # env.expdir in the official template
DEFAULT_STUDENT_DIR = "logs/como"  # env.comodir


@dataclass(frozen=True)
class OfficialSettings:
    """What an official config says about the network and its inputs."""

    sampling_rate: int
    hop_length: int
    filter_length: int
    win_length: int
    content_dim: int
    encoder: str
    n_layers: int
    n_chans: int
    n_hidden: int
    use_pitch_aug: bool
    n_spk: int
    speakers: tuple[tuple[str, int], ...]  # (name, official id), in id order

    @property
    def single_speaker(self) -> bool:
        """The official model has a speaker embedding only when n_spk > 1."""
        return self.n_spk <= 1

    @property
    def singer_names(self) -> list[str]:
        return [name for name, _ in self.speakers]

    @property
    def speaker_rows(self) -> list[int]:
        return [sid for _, sid in self.speakers]

    def network_key(self) -> tuple:
        """Everything two runs must agree on to share one model file."""
        return (self.sampling_rate, self.hop_length, self.filter_length, self.win_length, self.content_dim,
                self.n_layers, self.n_chans, self.n_hidden, self.use_pitch_aug, self.n_spk, self.speakers)

    def to_config(self, n_mels: int) -> Config:
        """Our config for this network (paper defaults for everything the official model does not set)."""
        overrides: dict[str, Any] = {
            "name": "official-comosvc",
            "audio.sample_rate": self.sampling_rate,
            "audio.hop_length": self.hop_length,
            "audio.n_fft": self.filter_length,
            "audio.win_length": self.win_length,
            "audio.n_mels": n_mels,
            "audio.spec_min": OFFICIAL_SPEC_RANGE[0],
            "audio.spec_max": OFFICIAL_SPEC_RANGE[1],
            "features.content_encoder": "contentvec",
            "features.content_dim": self.content_dim,
            "model.cond_channels": self.n_hidden,
            "model.residual_channels": self.n_chans,
            "model.residual_layers": self.n_layers,
            "model.kernel_size": OFFICIAL_KERNEL_SIZE,
            "model.dilation": OFFICIAL_DILATION,
            "model.step_embed_dim": self.n_chans,
            "model.step_mlp_dim": OFFICIAL_STEP_MLP_FACTOR * self.n_chans,
            "model.n_singers": len(self.speakers),
        }
        overrides.update({f"edm.{key}": value for key, value in OFFICIAL_EDM.items()})
        overrides["edm.sigma_max"] = official_sigma_max()
        return load_config("paper").replace(overrides)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ModelFileError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path} is not an official CoMoSVC config (not a mapping)")
    return data


def run_folders(data: dict[str, Any] | None) -> tuple[str, str]:
    """(teacher, student) run folders relative to the repository, from env.expdir/env.comodir."""
    env = (data or {}).get("env") or {}
    teacher, student = env.get("expdir", DEFAULT_TEACHER_DIR), env.get("comodir", DEFAULT_STUDENT_DIR)
    return (teacher if isinstance(teacher, str) else DEFAULT_TEACHER_DIR,
            student if isinstance(student, str) else DEFAULT_STUDENT_DIR)


def parse_settings(data: dict[str, Any], where: Path) -> OfficialSettings:
    """OfficialSettings from a loaded config; ModelFileError naming the first bad or missing entry."""

    def section(name: str) -> dict[str, Any]:
        value = data.get(name)
        if not isinstance(value, dict):
            raise ModelFileError(f"{where} has no '{name}' section: not an official CoMoSVC config")
        return value

    def integer(sec: str, key: str, default: int | None = None) -> int:
        value = section(sec).get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ModelFileError(f"{where}: {sec}.{key} must be a positive whole number, got {value!r}")
        return value

    pitch_aug = section("model").get("use_pitch_aug", False)
    if not isinstance(pitch_aug, bool):
        raise ModelFileError(f"{where}: model.use_pitch_aug must be true or false, got {pitch_aug!r}")
    n_spk = section("model").get("n_spk")
    if n_spk is None:
        n_spk = 1  # the official model then has no speaker embedding, as for n_spk: 1
    if isinstance(n_spk, bool) or not isinstance(n_spk, int) or n_spk < 1:
        raise ModelFileError(f"{where}: model.n_spk must be a positive whole number, got {n_spk!r}")
    filter_length = integer("data", "filter_length", 512)
    return OfficialSettings(
        sampling_rate=integer("data", "sampling_rate"),
        hop_length=integer("data", "hop_length"),
        filter_length=filter_length,
        win_length=integer("data", "win_length", filter_length),
        content_dim=integer("data", "encoder_out_channels"),
        encoder=str(section("data").get("encoder", "")),
        n_layers=integer("model", "n_layers"),
        n_chans=integer("model", "n_chans"),
        n_hidden=integer("model", "n_hidden"),
        use_pitch_aug=pitch_aug,
        n_spk=n_spk,
        speakers=_speakers(data.get("spk"), n_spk, where),
    )


def _speakers(spk: Any, n_spk: int, where: Path) -> tuple[tuple[str, int], ...]:
    if not isinstance(spk, dict) or not spk:
        raise ModelFileError(f"{where} has no speaker map ('spk: {{name: id}}')")
    pairs = []
    for name, sid in spk.items():
        if isinstance(sid, bool) or not isinstance(sid, int) or not 0 <= sid < max(n_spk, 1):
            raise ModelFileError(
                f"{where}: speaker '{name}' has id {sid!r}, outside 0..{max(n_spk, 1) - 1} (model.n_spk)"
            )
        pairs.append((str(name), sid))
    return tuple(sorted(pairs, key=lambda p: (p[1], p[0])))
