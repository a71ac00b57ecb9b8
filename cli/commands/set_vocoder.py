"""`comosvc set-vocoder MODEL VOCODER --out NEW`: a copy of a model with another vocoder in it.

For a built-in vocoder trained further (`comosvc train vocoder --init MODEL`) or an imported
NSF-HiFiGAN at the model's rate: the acoustic models, content encoder and metadata are copied
unchanged, so nothing else needs training again.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "set-vocoder",
        help="write a copy of a model file with another vocoder in it",
        description="Copy MODEL to --out with the vocoder of VOCODER (a vocoder file, or another model "
                    "file's vocoder) in place of its own. The vocoder must work at the model's sample rate, "
                    "hop and mel count.",
    )
    parser.add_argument("model", help="complete model file (or a name in the model folders)")
    parser.add_argument("vocoder", help="vocoder file, or a model file whose vocoder to take")
    parser.add_argument("--out", required=True, help="model file to write")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists (default: refuse)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cli.output_file import check_output_file
    from core.models import resolve_model
    from core.vocoder.files import load_vocoder_file, replace_model_vocoder

    out = check_output_file(args.out, args.force)
    model = resolve_model(args.model)
    vocoder = load_vocoder_file(args.vocoder)
    replace_model_vocoder(model, vocoder, out)
    print(f"{out}: {Path(model).name} with the {vocoder.name} vocoder of {Path(args.vocoder).name}")
    return 0
