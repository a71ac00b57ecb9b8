"""`comosvc train {teacher,student,vocoder,all}`: training from a preprocessed cache (or a corpus for `all`)."""

from __future__ import annotations

import argparse
import os
import sys

from cli.set_flag import add_set_flag, config_overrides


# Which of the shared options each stage reads: the vocoder has its own batch settings and no mixed
# precision, and the student takes its config from the teacher file.
_ACOUSTIC = ("config", "device", "amp", "batch", "log", "progress", "tensorboard")
_USES = {"teacher": _ACOUSTIC, "student": _ACOUSTIC[1:], "vocoder": ("config", "device"), "all": _ACOUSTIC}

_RESUME_HELP = {
    "teacher": "continue exactly from OUT's training checkpoint; OUT's vocoder and singer F0 medians are kept "
               "unless --init gives them (default: start afresh)",
    "student": "continue exactly from OUT's training checkpoint (default: start afresh)",
    "vocoder": "continue training the vocoder file at --out (default: start afresh)",
    "all": "skip the stages OUT/train_all.json lists as done; the teacher and student continue from their "
           "checkpoints (default: start afresh)",
}


def _common(parser: argparse.ArgumentParser, stage: str) -> None:
    """The options the training stages share, each help text with its default."""
    from cli.output import add_json_flag
    from core.config import TRAINING_CONFIG

    uses = _USES[stage]
    if "config" in uses:
        parser.add_argument("--config", default=TRAINING_CONFIG,
                            help=f"config name (live, tiny, paper) or YAML path (default {TRAINING_CONFIG}, the size "
                                 "of the shipped default model; tiny trains in minutes)")
    add_set_flag(parser)
    parser.add_argument("--resume", action="store_true", help=_RESUME_HELP[stage])
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    if "device" in uses:
        parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default auto)")
    if "amp" in uses:
        where = " for the teacher and student" if stage == "all" else ""
        parser.add_argument("--amp", action="store_true", help=f"bfloat16 mixed precision{where}, CUDA only (default off)")
    if "batch" in uses:
        parser.add_argument("--batch-size", type=int, default=None,
                            help="clips per batch (default: the config's train.batch_size)")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="steps between checkpoints (default: the config's train.checkpoint_every)")
    if "log" in uses:
        parser.add_argument("--log-every", type=int, default=None,
                            help="steps between TensorBoard points (default: the config's train.log_every)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads; pass 1 on a shared machine (default: torch's choice, one per core)")
    if "progress" in uses:
        parser.add_argument("--no-progress", action="store_true",
                            help="no progress bar; a log line per checkpoint instead (default: a progress bar)")
    if "tensorboard" in uses:
        parser.add_argument("--no-tensorboard", action="store_true",
                            help="write no TensorBoard logs (default: logs in NAME.logs/ beside the output)")
    add_json_flag(parser)


def register(subparsers) -> None:
    from core.train.pipeline import Budget

    parser = subparsers.add_parser(
        "train", help="train the teacher, the one-step student, the built-in vocoder, or everything",
        description="Training. Checkpoints are written atomically next to the output file "
                    "(NAME.train-state.safetensors) with TensorBoard logs in NAME.logs/. Works under torchrun (DDP). "
                    "'comosvc train STAGE --help' lists each stage's options and their defaults.")
    stages = parser.add_subparsers(dest="stage", metavar="STAGE")

    p = stages.add_parser("teacher", help="EDM teacher (+ built-in content encoder) from a preprocess cache")
    p.add_argument("cache", help="folder written by 'comosvc preprocess'")
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--steps", type=int, default=20000, help="training steps (default %(default)s)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (with a complete file) after this long (default: no time limit)")
    p.add_argument("--adversary-weight", type=float, default=0.1,
                   help="weight of the speaker adversary on the built-in encoder's code; 0 disables (default 0.1)")
    p.add_argument("--init", default=None, metavar="MODEL",
                   help="start from the teacher and content encoder of this model file, e.g. the default model, to "
                        "fine-tune it to the cache's singers: same config; singers it knows keep their voice, new "
                        "ones get a new random row (default: random weights)")
    _common(p, "teacher")
    p.set_defaults(func=run_teacher)

    p = stages.add_parser("student", help="one-step student by consistency distillation from a teacher file",
                          description="Consistency distillation of a teacher file into a one-step student. The "
                                      "config is the teacher file's; --set changes values on top of it.")
    p.add_argument("cache", help="the teacher's preprocess cache")
    p.add_argument("--teacher", required=True, help="teacher model file")
    p.add_argument("--out", required=True, help="model file to write (teacher + student + encoder)")
    p.add_argument("--steps", type=int, default=10000, help="training steps (default %(default)s)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (with a complete file) after this long (default: no time limit)")
    p.add_argument("--init", default=None, metavar="MODEL",
                   help="start the student from the student of this model file (same config as the teacher; singers it "
                        "knows keep their row, new ones take the teacher's row; default: a copy of the teacher)")
    _common(p, "student")
    p.set_defaults(func=run_student)

    p = stages.add_parser("vocoder", help="the built-in harmonic-plus-noise vocoder from audio files or a folder",
                          description="Train the built-in vocoder (on a GPU where torch sees one; --device cpu keeps it "
                                      "on the CPU). Its batch settings are the config's "
                                      "vocoder.train_* values (change them with --set). --set "
                                      "vocoder.train_range_shift_max=N adds two copies of each file re-sung by WORLD "
                                      "5..N semitones up and down with its own envelope, learnt through the "
                                      "mel loss only.")
    p.add_argument("data", help="audio folder (searched recursively) or file")
    p.add_argument("--out", required=True, help="vocoder file to write")
    p.add_argument("--steps", type=int, default=20000, help="training steps (default %(default)s)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (with a complete file) after this long (default: no time limit)")
    p.add_argument("--init", default=None, metavar="FILE",
                   help="start from the built-in vocoder in this vocoder or model file; put the result back into "
                        "a model with 'comosvc set-vocoder' (default: random weights)")
    p.add_argument("--aligned-to", default=None, metavar="MODEL",
                   help="also learn from the mels this model makes of each training file in a folder named after "
                        "one of its singers, and of each range copy: the mels the vocoder gets in conversion "
                        "(default: real mels only)")
    _common(p, "vocoder")
    p.set_defaults(func=run_vocoder)

    b = Budget()
    p = stages.add_parser("all", help="preprocess + vocoder + teacher/encoder + student into OUT/model.safetensors",
                          description="Every stage in turn, each stopping at its step or minute cap, whichever "
                                      "comes first.")
    p.add_argument("data", help="corpus folder DATA/<singer>/*.wav")
    p.add_argument("out", help="output folder")
    for name in ("vocoder", "teacher", "student"):
        p.add_argument(f"--{name}-minutes", type=float, default=getattr(b, f"{name}_minutes"),
                       help=f"time cap of the {name} stage in minutes (default %(default)g)")
        p.add_argument(f"--{name}-steps", type=int, default=getattr(b, f"{name}_steps"),
                       help=f"step cap of the {name} stage (default %(default)s)")
    p.add_argument("--adversary-weight", type=float, default=0.1,
                   help="weight of the speaker adversary on the built-in encoder's code; 0 disables (default 0.1)")
    p.add_argument("--content", default=None, metavar="FILE",
                   help="content-encoder file from 'comosvc import-content' (ContentVec, as in the paper) whose codes "
                        "the model learns from, instead of training the built-in encoder (default: built-in)")
    p.add_argument("--vocoder", default=None, metavar="FILE",
                   help="vocoder file from 'comosvc import-vocoder' (the M4Singer NSF-HiFiGAN for --config paper) "
                        "put into the model instead of training the built-in vocoder (default: built-in)")
    _common(p, "all")
    p.set_defaults(func=run_all)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _config(args: argparse.Namespace):
    from core.config import load_config

    return load_config(args.config, config_overrides(args.set) or None)


def _check_numbers(args: argparse.Namespace) -> None:
    """One line naming the option for any count or time that cannot work (before any data is read)."""
    from core.errors import UserError

    at_least_one = ["steps", "batch_size", "checkpoint_every", "log_every", "threads",
                    "vocoder_steps", "teacher_steps", "student_steps"]
    for name in at_least_one:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    for name in ("max_minutes", "vocoder_minutes", "teacher_minutes", "student_minutes"):
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            raise UserError(f"--{name.replace('_', '-')} must be above 0, got {value:g}")
    if getattr(args, "adversary_weight", 0.0) < 0:
        raise UserError(f"--adversary-weight must be 0 or more, got {args.adversary_weight:g}")


def _check_out(args: argparse.Namespace) -> None:
    """Before any training: where the result goes can be written (not after the run, when it is lost)."""
    from pathlib import Path

    from core.audio.io import check_output_folder
    from core.errors import UserError

    out = Path(args.out)
    if args.stage == "all":
        check_output_folder(out, "OUT")
        return
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as {out / (args.stage + '.safetensors')}")
    check_output_folder(out.parent, "--out")


def _options(args: argparse.Namespace, steps: int = 0):
    import torch

    from core.train.teacher import RunOptions

    _check_numbers(args)
    _check_out(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    return RunOptions(steps=steps, resume=args.resume, seed=args.seed, device=getattr(args, "device", "auto"),
                      amp=getattr(args, "amp", False), checkpoint_every=args.checkpoint_every,
                      log_every=getattr(args, "log_every", None), progress=not getattr(args, "no_progress", False),
                      max_minutes=getattr(args, "max_minutes", None), batch_size=getattr(args, "batch_size", None),
                      tensorboard=not getattr(args, "no_tensorboard", False))


def _log(args: argparse.Namespace):
    return (lambda m: print(m, file=sys.stderr)) if args.json else print


def _report(args: argparse.Namespace, summary: dict, what: str) -> int:
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
                            adversary_weight=args.adversary_weight, log=_log(args), init=args.init)
    return _report(args, summary, f"teacher -> {args.out}")


def run_student(args: argparse.Namespace) -> int:
    from core.train.student import train_student

    # The student keeps the teacher file's config; --set overrides apply on top of it (--config is unused).
    summary = train_student(args.cache, args.teacher, args.out, _options(args, args.steps),
                            overrides=config_overrides(args.set), log=_log(args), init=args.init)
    return _report(args, summary, f"student -> {args.out}")


def run_vocoder(args: argparse.Namespace) -> int:
    from core.train.vocoder import train_vocoder

    _options(args, args.steps)
    summary = train_vocoder(args.data, args.out, args.steps, _config(args), max_minutes=args.max_minutes,
                            resume=args.resume, seed=args.seed, checkpoint_every=args.checkpoint_every,
                            log=_log(args), init=args.init, aligned_to=args.aligned_to, device=args.device)
    return _report(args, summary, f"vocoder -> {args.out}")


def _remove_if_no_files(folder: str) -> None:
    import shutil

    if os.path.isdir(folder) and not any(files for _, _, files in os.walk(folder)):
        shutil.rmtree(folder, ignore_errors=True)


def run_all(args: argparse.Namespace) -> int:
    from cli.output import print_json
    from core.errors import UserError
    from core.train.pipeline import Budget, train_all

    budget = Budget(args.vocoder_steps, args.vocoder_minutes, args.teacher_steps, args.teacher_minutes,
                    args.student_steps, args.student_minutes)
    created = not os.path.exists(args.out)
    try:
        report = train_all(args.data, args.out, _config(args), _options(args), budget, args.adversary_weight,
                           log=_log(args), content_path=args.content, vocoder_path=args.vocoder)
    except UserError:
        if created:
            _remove_if_no_files(args.out)  # a refused run leaves no empty OUT behind
        raise
    if args.json:
        print_json(report)
    else:
        for name, result in report["stages"].items():
            losses = (f", loss {result['first_loss']:.4f} -> {result['last_loss']:.4f}"
                      if result.get("first_loss") is not None else "")
            print(f"{name}: {result['wall_seconds'] / 60:.1f} min{losses}{_validation_text(result)}")
        print(f"model: {args.out}/model.safetensors")
    return 0
