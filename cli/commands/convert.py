"""`comosvc convert IN [IN ...] --singer S`: offline singing voice conversion of audio files.

Each input is converted with the same streaming path the live engine uses
(core.convert), with whole-file F0 and exact look-ahead, and written as
DIR/<stem>_<singer>.wav (atomically).
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from cli.device_flag import add_device_flag
    from cli.output import add_json_flag
    from core.features.pitch import PITCH_METHODS

    parser = subparsers.add_parser(
        "convert",
        help="convert singing in audio files to a target singer's voice",
        description=(
            "Convert each IN to the voice of --singer and write DIR/<stem>_<singer>.wav. "
            "--steps: 1, 2 or 4 consistency steps (1 is the paper's one-step student) or teacher-N "
            "(the diffusion teacher with N ODE steps, slow). --auto-transpose shifts by the whole "
            "semitones between the input's median F0 and the singer's."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files (any format, rate and channels)")
    parser.add_argument("--model", default=None, help="model file or name (default: the shipped default model)")
    parser.add_argument("--singer", required=True, help="target singer name (see 'comosvc models')")
    parser.add_argument("--pitch", type=float, default=0.0, help="transpose by this many semitones (default 0)")
    parser.add_argument("--steps", default="1", help="1 | 2 | 4 | teacher-N (default 1)")
    parser.add_argument("--f0", default=None, choices=PITCH_METHODS, help="pitch method (default: the model's)")
    parser.add_argument("--auto-transpose", action="store_true", help="move the input's key to the singer's range")
    parser.add_argument("--rate", type=int, default=None, help="output sample rate in Hz (default 24000)")
    parser.add_argument("--out", default=None, help="output folder (default: each input's folder)")
    add_device_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cli.output import print_json
    from core.convert import VoiceModel, convert_file, parse_steps
    from core.errors import UserError

    parse_steps(args.steps)
    if args.rate is not None and not 8000 <= args.rate <= 192000:
        raise UserError(f"--rate must be between 8000 and 192000 Hz, got {args.rate}")
    model = VoiceModel.load(args.model, args.device)
    model.singers.id(args.singer)
    results = []
    for path in args.inputs:
        target, report = convert_file(
            model, path, args.singer, args.out, pitch=args.pitch, steps=args.steps, f0_method=args.f0,
            auto_transpose=args.auto_transpose, out_rate=args.rate,
        )
        results.append({"input": str(path), "output": str(target), **report.to_dict()})
        if not args.json:
            line = f"{path} -> {target} ({report.input_seconds:.2f} s, RTF {report.real_time_factor:.3f}"
            line += f", pitch {report.pitch_semitones:+g} st)"
            print(line + "".join(f"; {note}" for note in report.notes))
    if args.json:
        print_json({"model": model.path, "files": results})
    return 0
