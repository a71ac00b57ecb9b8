"""`comosvc keep-singers MODEL NAME... --out NEW`: a copy of a model with only some of its singers.

For voices that were in training to teach the network and are not meant as targets, or to hand
on a model of fewer voices. The kept singers convert exactly as before (core.model.singer_subset).
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "keep-singers",
        help="write a copy of a model file with only the named singers",
        description="Copy MODEL to --out with only the singers named, in the order given: their rows of "
                    "the singer tables, their retrieval tables and their F0 medians. Nothing else changes, "
                    "so they convert exactly as before. '--drop' names the singers to leave out instead.",
    )
    parser.add_argument("model", help="complete model file (or a name in the model folders)")
    parser.add_argument("singers", nargs="+", help="singers to keep (with --drop: singers to leave out)")
    parser.add_argument("--drop", action="store_true", help="the names given are the singers to leave out")
    parser.add_argument("--out", required=True, help="model file to write")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists (default: refuse)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cli.output_file import check_output_file
    from core.model.singer_subset import write_singer_subset
    from core.models import resolve_model

    out = check_output_file(args.out, args.force)
    model = resolve_model(args.model)
    keep, dropped = write_singer_subset(model, out, args.singers, drop=args.drop)
    print(f"{out}: {len(keep)} singers of {Path(model).name}, dropped {', '.join(dropped) or 'none'}")
    return 0
