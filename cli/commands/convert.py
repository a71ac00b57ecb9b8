"""`comosvc convert IN [IN ...] --singer S`: offline singing voice conversion of audio files.

Each input is converted with the same streaming path the live engine uses
(core.convert), with whole-file F0 and exact look-ahead, and written as
DIR/<stem>_<singer>.wav (atomically).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    from cli.device_flag import add_device_flag
    from cli.output import add_json_flag
    from core.audio.peak import PEAK_HELP
    from core.features.pitch_settings import PITCH_METHODS, PITCH_SHIFT_HELP
    from core.features.retrieval_settings import RETRIEVAL_HELP
    from core.sampling_settings import LATENT_SCALE_HELP

    parser = subparsers.add_parser(
        "convert",
        help="convert singing in audio files to a target singer's voice",
        description=(
            "Convert each IN to the voice of --singer and write DIR/<stem>_<singer>.wav. "
            "--sampler: 1, 2 or 4 consistency steps (1 is the paper's one-step student) or teacher-N, N >= 1 "
            "(the diffusion teacher with N steps of its sampler, slow; --churn sets that sampler's EDM churn). "
            "--auto-transpose moves the input's median F0 nearest the singer's by whole semitones (the key "
            f"changes); --auto-octave by whole octaves (the key stays). The {PEAK_HELP}. Every input that can "
            "be converted is; each one that cannot gets its own error line, and the exit code is then 2."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files (any format, rate and channels)")
    parser.add_argument("--model", default=None, help="model file or name (default: the shipped default model)")
    parser.add_argument("--singer", required=True, help="target singer name (see 'comosvc models')")
    parser.add_argument("--pitch", type=float, default=0.0, help=f"{PITCH_SHIFT_HELP} (default 0)")
    parser.add_argument("--sampler", default=None, help="1 | 2 | 4 | teacher-N with N >= 1 (default 1)")
    parser.add_argument("--churn", type=float, default=None,
                        help="teacher-N only: EDM's stochastic churn S_churn, fresh noise before each step; 0 is "
                             "the deterministic ODE (default: the model's own edm.teacher_churn)")
    parser.add_argument("--latent-scale", type=float, default=None, help=LATENT_SCALE_HELP)
    parser.add_argument("--seed", type=int, default=0,
                        help="the sampler's noise: the same seed gives the same output, another seed another "
                             "draw (default 0, what the live engine plays)")
    # The old name: 'steps' means training steps in 'comosvc train'; kept working, with a notice.
    parser.add_argument("--steps", dest="deprecated_steps", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--f0", default=None, choices=PITCH_METHODS, help="pitch method (default: the model's)")
    add_auto_transpose_flags(parser)
    parser.add_argument("--retrieval", type=float, default=0.0, help=RETRIEVAL_HELP)
    parser.add_argument("--rate", type=int, default=None, help="output sample rate in Hz (default 24000)")
    parser.add_argument("--out", default=None, help="output folder (default: each input's folder)")
    add_device_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cli.output import print_json
    from core.audio.io import check_output_folder
    from core.convert import VoiceModel, convert_file, parse_steps
    from core.errors import UserError
    from core.features.pitch_settings import check_pitch_shift
    from core.features.retrieval_settings import check_retrieval_ratio, no_index_error
    from core.sampling_settings import check_latent_scale, check_seed, check_teacher_churn

    sampler = _sampler(args)
    kind, _ = parse_steps(sampler)
    if args.churn is not None:
        if kind != "teacher":
            raise UserError(f"--churn sets the teacher's sampler; it needs --sampler teacher-N, not '{sampler}'")
        check_teacher_churn(args.churn)  # before the model loads, not after
    if args.latent_scale is not None:
        if kind == "teacher":
            raise UserError("--latent-scale sets the student's sampler; the teacher's starts at sigma_max")
        check_latent_scale(args.latent_scale)
    check_pitch_shift(args.pitch)
    check_seed(args.seed)
    check_retrieval_ratio(args.retrieval)
    if args.rate is not None and not 8000 <= args.rate <= 192000:
        raise UserError(f"--rate must be between 8000 and 192000 Hz, got {args.rate}")
    if args.out is not None:
        check_output_folder(args.out)  # before the model loads, not after the conversion
    model = VoiceModel.load(args.model, args.device)
    model.singers.id(args.singer)
    if args.retrieval > 0 and model.retrieval is None:
        raise no_index_error(model.path)
    if args.churn is not None:
        model.set_teacher_churn(args.churn)
    if args.latent_scale is not None:
        model.set_student_latent_scale(args.latent_scale)
    results, failed = [], []
    for path in args.inputs:
        try:
            target, report = convert_file(
                model, path, args.singer, args.out, pitch=args.pitch, steps=sampler, f0_method=args.f0,
                auto_transpose=args.auto_transpose, out_rate=args.rate, retrieval=args.retrieval, seed=args.seed,
            )
        except UserError as exc:  # one bad file must not cost the others their conversion
            reason = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            print(f"comosvc convert: error: {reason}", file=sys.stderr, flush=True)
            failed.append({"input": str(path), "error": str(exc)})
            continue
        results.append({"input": str(path), "output": str(target), **report.to_dict()})
        if not args.json:
            line = f"{path} -> {target} ({report.input_seconds:.2f} s, RTF {report.real_time_factor:.3f}"
            line += f", pitch {report.pitch_semitones:+g} st)"
            print(line + "".join(f"; {note}" for note in report.notes))
    if args.json:
        print_json({"model": model.path, "files": results, "failed": failed})
    return UserError.exit_code if failed else 0


def _sampler(args: argparse.Namespace) -> str:
    """--sampler, or the deprecated --steps with a one-line notice."""
    from core.errors import UserError

    if args.deprecated_steps is None:
        return args.sampler or "1"
    if args.sampler is not None:
        raise UserError("give --sampler only (--steps is its old name)")
    print("comosvc convert: warning: --steps is deprecated, use --sampler", file=sys.stderr, flush=True)
    return args.deprecated_steps


def add_auto_transpose_flags(parser: argparse.ArgumentParser) -> None:
    """--auto-transpose (whole semitones) or --auto-octave (whole octaves); both set args.auto_transpose to
    the mode (core.features.pitch.AUTO_TRANSPOSE_MODES), or None when neither is given."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--auto-transpose", dest="auto_transpose", action="store_const", const="semitones",
                       help="move the input toward the singer's range by whole semitones (the song's key changes)")
    group.add_argument("--auto-octave", dest="auto_transpose", action="store_const", const="octaves",
                       help="move the input toward the singer's range by whole octaves (the song's key stays)")
