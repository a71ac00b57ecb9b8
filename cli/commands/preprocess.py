"""`comosvc preprocess DATA OUT`: build the feature cache that training reads (core/data)."""

from __future__ import annotations

import argparse

from cli.set_flag import add_set_flag, config_overrides


def register(subparsers) -> None:
    from cli.output import add_json_flag
    from core.config import TRAINING_CONFIG

    parser = subparsers.add_parser(
        "preprocess",
        help="slice, resample and analyse a corpus folder DATA/<singer>/*.wav into a training cache OUT",
        description=(
            "Resample to 24 kHz, peak-normalise, slice long files on silence, extract mel, F0, loudness and "
            "content features, write key-shift and volume augmentation copies (and, with --set "
            "train.range_shift_max=N, two copies re-sung up to N semitones away with the singer's own envelope), "
            "a train/validation split (2 clips per singer) and OUT/manifest.json. Re-running skips what is done "
            "and drops the clips of files no longer in DATA."
        ),
    )
    parser.add_argument("data", help="corpus folder: one sub-folder of audio files per singer")
    parser.add_argument("out", help="cache folder to create or update")
    parser.add_argument("--config", default=TRAINING_CONFIG,
                        help=f"config name or YAML path (default {TRAINING_CONFIG}, as in 'comosvc train')")
    parser.add_argument("--f0", default=None, help="pitch method (default: the config's)")
    parser.add_argument("--content", default=None,
                        help="content-encoder file (e.g. imported ContentVec); default: cache inputs of the built-in encoder")
    parser.add_argument("--perturb-copies", type=int, default=1, help="perturbed mels per clip for the built-in encoder")
    parser.add_argument("--seed", type=int, default=0)
    add_set_flag(parser, "override a config value, e.g. --set train.range_shift_max=12 (repeatable; default none)")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from cli.output import print_json
    from core.config import load_config
    from core.data.preprocess import preprocess

    if args.perturb_copies < 1:
        from core.errors import UserError

        raise UserError("--perturb-copies must be at least 1")
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    cfg = load_config(args.config, config_overrides(args.set) or None)
    summary = preprocess(args.data, args.out, cfg, args.f0, args.content, args.seed,
                         args.perturb_copies, log=log)
    if args.json:
        print_json(summary)
    else:
        print(f"{summary['clips']} clips from {len(summary['singers'])} singers ({summary['train_seconds']:.0f} s "
              f"of training audio), {len(summary['skipped'])} skipped; cache in {args.out}")
    return 0
