"""Everything conversion needs, loaded from ONE model file (kind "model").

A complete model file (core.model.model_file) holds, besides the acoustic
models ("teacher.", "student."), two more parts that this module reads:

    content.   content-encoder tensors; metadata["content"] describes it
               (what `BuiltinContentEncoder.file_parts()` returns)
    vocoder.   vocoder tensors; metadata["vocoder"] describes it
               (what `core.vocoder.files.embed_vocoder` returns)

and metadata["singer_f0_median_hz"] = {singer: median F0 in Hz} for
auto-transpose. `save_voice_model` writes such a file; the training pipeline
calls it once at the end to produce the final model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import torch

from core.audio.mel import MelSpectrogram
from core.checkpoint import with_prefix
from core.config import Config
from core.errors import ModelFileError, UserError
from core.features.content import CONTENT_PREFIX, ContentEncoder, encoder_from_tensors
from core.features.retrieval import RETRIEVAL_PART, SingerIndex
from core.features.pitch import PitchExtractor, pitch_extractor_from_config
from core.features.singers import SingerTable
from core.model.acoustic import AcousticModel
from core.model.guidance import check_guidable
from core.model.model_file import load_model, save_model
from core.sampling_settings import check_latent_scale, check_singer_guidance, check_teacher_churn
from core.models import resolve_model
from core.vocoder.base import Vocoder

SINGER_F0_KEY = "singer_f0_median_hz"


@dataclass
class VoiceModel:
    """A loaded conversion model; build it with `VoiceModel.load`."""

    config: Config
    singers: SingerTable
    generator: AcousticModel
    teacher: AcousticModel | None
    content_encoder: ContentEncoder
    vocoder: Vocoder
    mel: MelSpectrogram
    singer_f0_median_hz: dict[str, float] = field(default_factory=dict)
    retrieval: SingerIndex | None = None  # per-singer content codes (older files have none)
    path: str | None = None
    device: torch.device = torch.device("cpu")
    _pitch_extractors: dict[str, PitchExtractor] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str | torch.device | None = None) -> "VoiceModel":
        """The model at `path` (a file or a name in the model folders), or the default model.

        `device` (see core.device; default the CPU): every module lives there from now on.
        """
        from core.device import resolve_device

        target = resolve_device(device)
        resolved = resolve_model(path)
        bundle = load_model(resolved)
        meta = bundle.metadata
        for part in ("content", "vocoder"):
            if part not in bundle.extra_parts or not isinstance(meta.get(part), dict):
                parts = ", ".join(meta.get("parts", [])) or "none"
                raise ModelFileError(  # a stage's file of 'train teacher' / 'train student' has no vocoder
                    f"{resolved} holds no {part} part (its parts: {parts}): it is a training stage's file, "
                    "not a complete conversion model; 'comosvc train all DATA OUT' makes one (OUT/model.safetensors)"
                )
        cfg = bundle.config
        content = encoder_from_tensors(with_prefix(bundle.extra_parts["content"], CONTENT_PREFIX), meta["content"], cfg.audio)
        if content.dim != cfg.features.content_dim:
            raise ModelFileError(f"{resolved}: content encoder is {content.dim}-d, the model expects {cfg.features.content_dim}")
        from core.vocoder.files import vocoder_from_parts

        vocoder = vocoder_from_parts(bundle.extra_parts["vocoder"], meta["vocoder"])
        if not vocoder.fits(cfg.audio):
            raise ModelFileError(
                f"{resolved}: vocoder works at {vocoder.sample_rate} Hz / hop {vocoder.hop_length} / "
                f"{vocoder.n_mels} mels, the model at {cfg.audio.sample_rate} / {cfg.audio.hop_length} / {cfg.audio.n_mels}"
            )
        medians = meta.get(SINGER_F0_KEY) or {}
        if not isinstance(medians, dict):
            raise ModelFileError(f"{resolved}: '{SINGER_F0_KEY}' must map singer names to Hz")
        retrieval = None
        if RETRIEVAL_PART in bundle.extra_parts:
            retrieval = SingerIndex.from_file_part(bundle.extra_parts[RETRIEVAL_PART], len(bundle.singers.names),
                                                   content.dim, str(resolved))
        model = cls(
            config=cfg,
            singers=bundle.singers,
            generator=bundle.generator.eval(),
            teacher=bundle.teacher.eval() if bundle.teacher is not None else None,
            content_encoder=content,
            vocoder=vocoder,
            mel=MelSpectrogram(cfg.audio),
            singer_f0_median_hz={str(k): float(v) for k, v in medians.items()},
            retrieval=retrieval,
            path=str(resolved),
        )
        return model.to(target)

    def to(self, device: str | torch.device) -> "VoiceModel":
        """Move the acoustic models, content encoder, vocoder and mel front end to `device` (in place)."""
        self.device = torch.device(device)
        for module in (self.generator, self.teacher, self.content_encoder, self.mel):
            if module is not None:
                module.to(self.device)
        self.vocoder.to(self.device)
        if self.retrieval is not None:
            self.retrieval.to(self.device)
        self._pitch_extractors.clear()  # neural trackers are made again on the new device
        return self

    def set_teacher_churn(self, churn: float) -> None:
        """Sample the teacher with this EDM churn from now on (0: the deterministic ODE); see samplers.py."""
        check_teacher_churn(churn)
        if self.teacher is None:
            raise UserError(f"{self.path} has no teacher, so there is no teacher sampler to set churn for")
        self.teacher.denoiser.schedule = replace(self.teacher.schedule, teacher_churn=float(churn))
        self.config = self.config.replace({"edm.teacher_churn": float(churn)})

    def set_singer_guidance(self, scale: float) -> None:
        """Guide the teacher's sampler toward the singer by this from now on (0: none); model/guidance.py."""
        check_singer_guidance(scale)
        if self.teacher is None:
            raise UserError(f"{self.path} has no teacher, so there is no teacher sampler to guide")
        check_guidable(scale, self.config.train.singer_dropout_prob)
        self.teacher.denoiser.schedule = replace(self.teacher.schedule, singer_guidance=float(scale))
        self.config = self.config.replace({"edm.singer_guidance": float(scale)})

    def set_student_latent_scale(self, scale: float) -> None:
        """Start the consistency sampler from scale x sigma_max noise from now on (1: the paper); samplers.py."""
        check_latent_scale(scale)
        self.generator.denoiser.schedule = replace(self.generator.schedule, student_latent_scale=float(scale))
        self.config = self.config.replace({"edm.student_latent_scale": float(scale)})

    @property
    def sample_rate(self) -> int:
        return self.config.audio.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.audio.hop_length

    def pitch_extractor(self, method: str | None = None) -> PitchExtractor:
        """The extractor for `method` (default: the config's), made once and cached."""
        name = method or self.config.features.f0_method
        if name not in self._pitch_extractors:
            self._pitch_extractors[name] = pitch_extractor_from_config(self.config.features, self.config.audio, name,
                                                                       device=self.device)
        return self._pitch_extractors[name]

    def singer_median(self, name: str) -> float | None:
        return self.singer_f0_median_hz.get(name)


def save_voice_model(
    path: str | os.PathLike,
    config: Config,
    singers: SingerTable | Iterable[str],
    teacher: AcousticModel | None,
    student: AcousticModel | None,
    content_encoder: Any,
    vocoder: Vocoder,
    singer_f0_median_hz: dict[str, float] | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> None:
    """Write a complete conversion model file (atomic) that `VoiceModel.load` reads.

    content_encoder: an encoder with `file_parts() -> (state, metadata)` (the
    built-in one; an imported HuBERT encoder may be passed as such a tuple).
    vocoder: a vocoder with weights (`state_dict()` and `metadata()`).
    singer_f0_median_hz: {singer: median F0 of its training data in Hz}.
    """
    from core.vocoder.files import embed_vocoder

    if teacher is None and student is None:
        raise ValueError("a voice model needs a teacher or a student")
    if isinstance(content_encoder, tuple):
        content_state, content_meta = content_encoder
    elif hasattr(content_encoder, "file_parts"):
        content_state, content_meta = content_encoder.file_parts()
    else:
        raise ValueError("content_encoder must have file_parts() or be a (state, metadata) tuple")
    vocoder_state, vocoder_meta = embed_vocoder(vocoder)
    metadata = dict(extra_metadata or {})
    metadata.update(content=content_meta, vocoder=vocoder_meta)
    metadata[SINGER_F0_KEY] = {str(k): float(v) for k, v in (singer_f0_median_hz or {}).items()}
    save_model(
        path, config, singers, teacher=teacher, student=student,
        extra_parts={"content": dict(content_state), "vocoder": dict(vocoder_state)},
        extra_metadata=metadata,
    )
