"""`comosvc train {teacher,student,vocoder,all}`: training from a preprocessed cache (or a corpus for `all`)."""

from __future__ import annotations

import argparse
import sys


def _common(parser: argparse.ArgumentParser, config_default: str = "tiny") -> None:
    from cli.output import add_json_flag

    parser.add_argument("--config", default=config_default, help=f"config name or YAML path (default {config_default})")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set model.residual_layers=4 (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue exactly from the training checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--amp", action="store_true", help="bfloat16 mixed precision (CUDA only)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's train.batch_size")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    parser.add_argument("--log-every", type=int, default=None, help="steps between TensorBoard points")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-tensorboard", action="store_true", help="write no TensorBoard logs")
    add_json_flag(parser)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the teacher, the one-step student, the built-in vocoder, or everything",
        description="Training. Checkpoints are written atomically next to the output file "
                    "(NAME.train-state.safetensors) with TensorBoard logs in NAME.logs/. Works under torchrun (DDP).")
    stages = parser.add_subparsers(dest="stage", metavar="STAGE")

    p = stages.add_parser("teacher", help="EDM teacher (+ built-in content encoder) from a preprocess cache")
    p.add_argument("cache", help="folder written by 'comosvc preprocess'")
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a complete file) after this long")
    p.add_argument("--adversary-weight", type=float, default=0.1,
                   help="weight of the speaker adversary on the built-in encoder's code (0 disables)")
    _common(p)
    p.set_defaults(func=run_teacher)

    p = stages.add_parser("student", help="one-step student by consistency distillation from a teacher file")
    p.add_argument("cache", help="the teacher's preprocess cache")
    p.add_argument("--teacher", required=True, help="teacher model file")
    p.add_argument("--out", required=True, help="model file to write (teacher + student + encoder)")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--max-minutes", type=float, default=None)
    _common(p)
    p.set_defaults(func=run_student)

    p = stages.add_parser("vocoder", help="the built-in harmonic-plus-noise vocoder from audio files or a folder")
    p.add_argument("data", help="audio folder (searched recursively) or file")
    p.add_argument("--out", required=True, help="vocoder file to write")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--max-minutes", type=float, default=None)
    _common(p)
    p.set_defaults(func=run_vocoder)

    p = stages.add_parser("all", help="preprocess + vocoder + teacher/encoder + student into OUT/model.safetensors")
    p.add_argument("data", help="corpus folder DATA/<singer>/*.wav")
    p.add_argument("out", help="output folder")
    p.add_argument("--vocoder-minutes", type=float, default=15.0)
    p.add_argument("--teacher-minutes", type=float, default=40.0)
    p.add_argument("--student-minutes", type=float, default=15.0)
    p.add_argument("--vocoder-steps", type=int, default=20000)
    p.add_argument("--teacher-steps", type=int, default=50000)
    p.add_argument("--student-steps", type=int, default=20000)
    p.add_argument("--adversary-weight", type=float, default=0.1)
    _common(p)
    p.set_defaults(func=run_all)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _overrides(args: argparse.Namespace) -> dict:
    import yaml

    from core.errors import UserError

    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise UserError(f"--set needs KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _config(args: argparse.Namespace):
    from core.config import load_config

    return load_config(args.config, _overrides(args) or None)


def _options(args: argparse.Namespace, steps: int = 0):
    import torch

    from core.errors import UserError
    from core.train.teacher import RunOptions

    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    if steps < 0 or (args.batch_size is not None and args.batch_size < 1):
        raise UserError("--steps and --batch-size must be positive")
    return RunOptions(steps=steps, resume=args.resume, seed=args.seed, device=args.device, amp=args.amp,
                      checkpoint_every=args.checkpoint_every, log_every=args.log_every,
                      progress=not args.no_progress, max_minutes=getattr(args, "max_minutes", None),
                      batch_size=args.batch_size, tensorboard=not args.no_tensorboard)


def _log(args: argparse.Namespace):
    return (lambda m: print(m, file=sys.stderr)) if args.json else print


def _report(args: argparse.Namespace, summary: dict, what: str) -> int:
    import os

    from cli.output import print_json
    from core.train.loop import figure

    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return 0
    if args.json:
        print_json(summary)
    else:
        first, last = summary.get("first_loss"), summary.get("last_loss")
        if first is not None:
            print(f"{what}: {summary['steps']} steps in {summary['seconds'] / 60:.1f} min, "
                  f"loss {figure(first)} -> {figure(last)}"
                  f"{_validation_text(summary)}")
    return 0


def _validation_text(summary: dict) -> str:
    """', name start -> end' for each validation figure (start only where the stage measured one)."""
    from core.train.loop import figure

    start = summary.get("validation_start", {})
    return "".join(f", {k} {figure(start[k])} -> {figure(v)}" if k in start else f", {k} {figure(v)}"
                   for k, v in summary.get("validation", {}).items())


def run_teacher(args: argparse.Namespace) -> int:
    from core.train.teacher import train_teacher

    summary = train_teacher(args.cache, args.out, _config(args), _options(args, args.steps),
                            adversary_weight=args.adversary_weight, log=_log(args))
    return _report(args, summary, f"teacher -> {args.out}")


def run_student(args: argparse.Namespace) -> int:
    from core.train.student import train_student

    # The student keeps the teacher file's config; --set overrides apply on top of it (--config is unused).
    summary = train_student(args.cache, args.teacher, args.out, _options(args, args.steps),
                            overrides=_overrides(args), log=_log(args))
    return _report(args, summary, f"student -> {args.out}")


def run_vocoder(args: argparse.Namespace) -> int:
    from core.train.vocoder import train_vocoder

    _options(args, args.steps)
    summary = train_vocoder(args.data, args.out, args.steps, _config(args), max_minutes=args.max_minutes,
                            resume=args.resume, seed=args.seed, checkpoint_every=args.checkpoint_every,
                            log=_log(args))
    return _report(args, summary, f"vocoder -> {args.out}")


def run_all(args: argparse.Namespace) -> int:
    from cli.output import print_json
    from core.train.pipeline import Budget, train_all

    budget = Budget(args.vocoder_steps, args.vocoder_minutes, args.teacher_steps, args.teacher_minutes,
                    args.student_steps, args.student_minutes)
    report = train_all(args.data, args.out, _config(args), _options(args), budget, args.adversary_weight,
                       log=_log(args))
    if args.json:
        print_json(report)
    else:
        for name, result in report["stages"].items():
            losses = (f", loss {result['first_loss']:.4f} -> {result['last_loss']:.4f}"
                      if result.get("first_loss") is not None else "")
            print(f"{name}: {result['wall_seconds'] / 60:.1f} min{losses}{_validation_text(result)}")
        print(f"model: {args.out}/model.safetensors")
    return 0
