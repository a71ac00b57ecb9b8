"""`comosvc train all DATA OUT`: preprocess, vocoder, teacher (+ content encoder), student, one model file.

Each stage is capped by steps and minutes, so the whole run fits a time budget
(Budget's defaults, which the CLI shows: at most 70 minutes of training plus preprocessing).
Stage outputs in OUT:

    cache/                     the feature cache (core/data/cache.py)
    vocoder.safetensors        the built-in vocoder
    teacher.safetensors        teacher + built-in content encoder
    student.safetensors        teacher + student + encoder
    model.safetensors          the product: student, teacher, encoder, vocoder and retrieval index in one file
    train_all.json             per-stage wall times and loss curves

With resume=True a stage whose output exists is skipped, and the teacher and
student continue from their training checkpoints.

The paper's set-up (`--config paper --content C --vocoder V`): the content
codes come from an imported ContentVec/HuBERT file (`comosvc import-content`),
cached once by preprocessing and frozen, and the vocoder is an imported one
(`comosvc import-vocoder`, e.g. the M4Singer NSF-HiFiGAN) instead of the
built-in pair; both files are checked against the config before any work
and copied into the final model file.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the CLI reads Budget's defaults for --help without importing torch
    from core.config import Config
    from core.train.teacher import RunOptions


@dataclass(frozen=True)
class Budget:
    vocoder_steps: int = 20000
    vocoder_minutes: float = 15.0
    teacher_steps: int = 50000
    teacher_minutes: float = 40.0
    student_steps: int = 20000
    student_minutes: float = 15.0


def _done(summary: dict[str, Any], name: str) -> bool:
    return name in summary.get("stages", {})


def imported_content(path: str | Path, cfg: Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, metadata) of a content-encoder file that fits `cfg` (its width), to embed in the model file."""
    from core.checkpoint import load_model_file, split_prefix
    from core.features.content import CONTENT_KIND, CONTENT_PREFIX, content_encoder_for

    content_encoder_for(cfg, path)  # loads it once: a wrong kind or width is one line, before any work
    tensors, meta = load_model_file(path, expect_kind=CONTENT_KIND)
    return split_prefix(tensors, CONTENT_PREFIX), {k: v for k, v in meta.items() if k not in ("kind", "format_version")}


def imported_vocoder(path: str | Path, cfg: Config):
    """A vocoder file whose mel is the one `cfg` makes (rate, hop, bins, STFT, band edges), else a UserError."""
    from core.errors import UserError
    from core.vocoder.files import load_vocoder_file
    from core.vocoder.registry import same_front_end

    vocoder = load_vocoder_file(path)
    own = vocoder.front_end() if hasattr(vocoder, "front_end") else None
    a = cfg.audio
    if (vocoder.sample_rate, vocoder.hop_length, vocoder.n_mels) != (a.sample_rate, a.hop_length, a.n_mels) or (
            own is not None and not same_front_end(own, a)):
        raise UserError(f"vocoder {path} reads {vocoder.n_mels} mels at {vocoder.sample_rate} Hz, hop "
                        f"{vocoder.hop_length}; the '{cfg.name}' config makes {a.n_mels} at {a.sample_rate} Hz, hop "
                        f"{a.hop_length} (the M4Singer NSF-HiFiGAN fits the paper config)")
    return vocoder


def train_all(data: str | Path, out: str | Path, cfg: Config, options: RunOptions, budget: Budget = Budget(),
              adversary_weight: float = 0.1, log: Callable[[str], None] = print,
              content_path: str | Path | None = None, vocoder_path: str | Path | None = None) -> dict[str, Any]:
    """Every stage into OUT/model.safetensors; `content_path` / `vocoder_path`: imported files used
    instead of training the built-in encoder / vocoder."""
    from core.data.cache import read_manifest
    from core.data.preprocess import preprocess
    from core.model.model_file import load_model, save_model
    from core.train.student import train_student
    from core.train.teacher import train_teacher
    from core.train.vocoder import train_vocoder
    from core.convert.voice_model import SINGER_F0_KEY
    from core.train.singer_stats import singer_f0_medians
    from core.vocoder.files import embed_vocoder, load_vocoder_file

    if content_path is None and cfg.features.content_encoder != "builtin":
        from core.errors import UserError

        raise UserError(f"the '{cfg.name}' config learns from {cfg.features.content_encoder} codes: convert your "
                        "checkpoint once with 'comosvc import-content FILE --out contentvec.safetensors' and pass "
                        "--content contentvec.safetensors (or train with the built-in encoder: --config live or tiny)")
    content = imported_content(content_path, cfg) if content_path is not None else None
    vocoder = imported_vocoder(vocoder_path, cfg) if vocoder_path is not None else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "train_all.json"
    report: dict[str, Any] = {"config": cfg.name, "stages": {}}
    if options.resume and report_path.exists():
        report = json.loads(report_path.read_text())

    def stage(name: str, run: Callable[[], dict[str, Any]]) -> None:
        if options.resume and _done(report, name):
            log(f"== {name}: done earlier, skipped")
            return
        log(f"== {name}")
        started = time.monotonic()
        result = run()
        result = {k: v for k, v in result.items() if k != "skipped"} if name == "preprocess" else result
        result["wall_seconds"] = time.monotonic() - started
        report["stages"][name] = result
        report_path.write_text(json.dumps(report, indent=1, default=float))
        log(f"== {name} finished in {result['wall_seconds'] / 60:.1f} min")

    cache = out / "cache"
    stage("preprocess", lambda: preprocess(data, cache, cfg, content_path=None if content is None else str(content_path),
                                           seed=options.seed, progress=options.progress, log=log))

    def vocoder_files() -> list[Path]:
        manifest = read_manifest(cache)
        # train_vocoder skips files over its size cap (a long take still trains the acoustic model as slices).
        return [Path(data) / rel for rel, s in manifest["sources"].items() if s["clips"]]

    if vocoder is None:
        stage("vocoder", lambda: train_vocoder(vocoder_files(), out / "vocoder.safetensors", budget.vocoder_steps,
                                               cfg, max_minutes=budget.vocoder_minutes, resume=options.resume,
                                               seed=options.seed, log=log, device=options.device))
    else:
        stage("vocoder", lambda: {"imported": str(vocoder_path), "name": vocoder.name})
    stage("teacher", lambda: train_teacher(cache, out / "teacher.safetensors", cfg,
                                           replace(options, steps=budget.teacher_steps, max_minutes=budget.teacher_minutes),
                                           adversary_weight=adversary_weight, log=log))
    stage("student", lambda: train_student(cache, out / "teacher.safetensors", out / "student.safetensors",
                                           replace(options, steps=budget.student_steps,
                                                   max_minutes=budget.student_minutes), log=log))

    def assemble() -> dict[str, Any]:
        bundle = load_model(out / "student.safetensors")
        state, meta = embed_vocoder(vocoder if vocoder is not None else load_vocoder_file(out / "vocoder.safetensors"))
        parts = {**bundle.extra_parts, "vocoder": state}
        metadata = {k: v for k, v in bundle.metadata.items() if k in bundle.extra_parts or k == "training"}
        metadata["vocoder"] = meta
        if content is not None:  # the frozen codes' encoder: conversion runs it on the input
            parts["content"], metadata["content"] = content
        metadata[SINGER_F0_KEY] = singer_f0_medians(cache)  # for conversion's auto-transpose
        save_model(out / "model.safetensors", bundle.config, bundle.singers, teacher=bundle.teacher,
                   student=bundle.student, extra_parts=parts, extra_metadata=metadata)
        return {"model": str(out / "model.safetensors")}

    stage("assemble", assemble)

    def index() -> dict[str, Any]:  # the singers' content codes, for conversion's --retrieval
        from core.train.retrieval_index import add_index

        built = add_index(out / "model.safetensors", cache)
        return {"codes_per_singer": [len(t) for t in built.tables]}

    stage("index", index)
    report["total_wall_seconds"] = sum(s["wall_seconds"] for s in report["stages"].values())
    report_path.write_text(json.dumps(report, indent=1, default=float))
    return report
