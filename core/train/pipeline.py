"""`comosvc train all DATA OUT`: preprocess, vocoder, teacher (+ content encoder), student, one model file.

Each stage is capped by steps and minutes, so the whole run fits a time budget
(Budget's defaults, which the CLI shows: at most 70 minutes of training plus preprocessing).
Stage outputs in OUT:

    cache/                     the feature cache (core/data/cache.py)
    vocoder.safetensors        the built-in vocoder
    teacher.safetensors        teacher + built-in content encoder
    student.safetensors        teacher + student + encoder
    model.safetensors          the product: student, teacher, encoder and vocoder in one file
    train_all.json             per-stage wall times and loss curves

With resume=True a stage whose output exists is skipped, and the teacher and
student continue from their training checkpoints.
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


def train_all(data: str | Path, out: str | Path, cfg: Config, options: RunOptions, budget: Budget = Budget(),
              adversary_weight: float = 0.1, log: Callable[[str], None] = print) -> dict[str, Any]:
    from core.data.cache import read_manifest
    from core.data.preprocess import preprocess
    from core.model.model_file import load_model, save_model
    from core.train.student import train_student
    from core.train.teacher import train_teacher
    from core.train.vocoder import train_vocoder
    from core.convert.voice_model import SINGER_F0_KEY
    from core.train.singer_stats import singer_f0_medians
    from core.vocoder.files import embed_vocoder, load_vocoder_file

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
    stage("preprocess", lambda: preprocess(data, cache, cfg, seed=options.seed, progress=options.progress, log=log))

    def vocoder_files() -> list[Path]:
        manifest = read_manifest(cache)
        # train_vocoder skips files over its size cap (a long take still trains the acoustic model as slices).
        return [Path(data) / rel for rel, s in manifest["sources"].items() if s["clips"]]

    stage("vocoder", lambda: train_vocoder(vocoder_files(), out / "vocoder.safetensors", budget.vocoder_steps, cfg,
                                           max_minutes=budget.vocoder_minutes, resume=options.resume,
                                           seed=options.seed, log=log))
    stage("teacher", lambda: train_teacher(cache, out / "teacher.safetensors", cfg,
                                           replace(options, steps=budget.teacher_steps, max_minutes=budget.teacher_minutes),
                                           adversary_weight=adversary_weight, log=log))
    stage("student", lambda: train_student(cache, out / "teacher.safetensors", out / "student.safetensors",
                                           replace(options, steps=budget.student_steps,
                                                   max_minutes=budget.student_minutes), log=log))

    def assemble() -> dict[str, Any]:
        bundle = load_model(out / "student.safetensors")
        state, meta = embed_vocoder(load_vocoder_file(out / "vocoder.safetensors"))
        parts = {**bundle.extra_parts, "vocoder": state}
        metadata = {k: v for k, v in bundle.metadata.items() if k in bundle.extra_parts or k == "training"}
        metadata["vocoder"] = meta
        metadata[SINGER_F0_KEY] = singer_f0_medians(cache)  # for conversion's auto-transpose
        save_model(out / "model.safetensors", bundle.config, bundle.singers, teacher=bundle.teacher,
                   student=bundle.student, extra_parts=parts, extra_metadata=metadata)
        return {"model": str(out / "model.safetensors")}

    stage("assemble", assemble)
    report["total_wall_seconds"] = sum(s["wall_seconds"] for s in report["stages"].values())
    report_path.write_text(json.dumps(report, indent=1, default=float))
    return report
