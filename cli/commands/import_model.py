"""`comosvc import-model DIR`: a model trained with the official CoMoSVC code, as one model file of ours.

DIR is the official repository after training (configs/diffusion.yaml,
logs/teacher/model_<step>.pt, logs/como/model_<step>.pt and their
config.yaml). The checkpoints are pickles; they are read here only, with
torch's weights-only loader, which builds tensors and plain containers and
nothing else. See core/model/official_import.py.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from cli.output import add_json_flag

    parser = subparsers.add_parser(
        "import-model",
        help="convert a model trained with the official CoMoSVC code (teacher and/or student) to a model file",
        description=(
            "Convert a model trained with the official CoMoSVC repository (github.com/Grace9994/CoMoSVC) into "
            "one model file: DIR holds configs/diffusion.yaml and logs/teacher/ and/or logs/como/ with "
            "model_<step>.pt and config.yaml. The singers keep the names of the config's 'spk' map. The content "
            "encoder (ContentVec, from 'comosvc import-content') and the vocoder (the M4Singer NSF-HiFiGAN, from "
            "'comosvc import-vocoder') go into the same file. Checkpoints are read with torch's weights-only "
            "loader, which never runs code named in the file."
        ),
    )
    parser.add_argument("dir", metavar="DIR", help="the official CoMoSVC folder (holds configs/ and logs/)")
    parser.add_argument("--out", required=True, help="output model file (.safetensors)")
    parser.add_argument("--content", default=None, help="content-encoder file made by 'comosvc import-content'")
    parser.add_argument(
        "--vocoder", default=None,
        help="vocoder file made by 'comosvc import-vocoder' (default: the imported nsf-hifigan in your model folder)",
    )
    parser.add_argument(
        "--step", type=int, default=None,
        help="the student's checkpoint step, model_<N>.pt in logs/como (the teacher's if there is no student; "
             "default: the newest)",
    )
    parser.add_argument(
        "--teacher-step", type=int, default=None, help="the teacher's checkpoint step (default: the newest)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cli.output import print_json
    from core.model.official_import import import_official

    report = import_official(args.dir, args.out, args.content, args.vocoder, args.step, args.teacher_step)
    if args.json:
        print_json(asdict(report))
        return 0
    parts = [f"teacher step {report.teacher_step}" if report.teacher_step is not None else None,
             f"student step {report.student_step}" if report.student_step is not None else None]
    print(
        f"imported official CoMoSVC ({', '.join(p for p in parts if p)}; {report.parameters:,} parameters, "
        f"{report.n_mels} mels) -> {report.out}; singers: {', '.join(report.singers)}"
    )
    for note in report.notes:
        print(f"note: {note}")
    return 0
